"""The stress of each ML engine against a finite-difference derivative of its own energy: sign and units.

ASE's convention: σ_ij = (1/V) ∂E/∂ε_ij (eV/Å³) for a homogeneous strain ε of cell and positions, positive when
the cell pulls inward (tension); the pressure is P = −tr σ / 3 = −dE/dV. A wrong sign, a kbar/GPa factor or
a missing 1/V shows up as a factor here.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from amorphdb.engines import load_engine

STRAIN = 2e-3  # central differences: error O(STRAIN²) against float32 noise of the energy


def strained_energy(atoms, strain: np.ndarray) -> float:
    """E (eV) of ``atoms`` with cell and positions deformed by (1 + strain)."""
    a = atoms.copy()
    a.calc = atoms.calc
    a.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
    return float(a.get_potential_energy())


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["chgnet", "sevennet"])
def test_stress_is_the_strain_derivative_of_the_energy(engine):
    atoms = bulk("LiF", "rocksalt", a=3.85, cubic=True)  # compressed (PBE a ≈ 4.06 Å): clearly positive P
    atoms.rattle(0.05, seed=1)
    atoms.calc = load_engine(engine, device="cpu").calculator
    volume = atoms.get_volume()
    stress = atoms.get_stress(voigt=False)  # eV/Å³
    for i, j in [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2)]:
        e = np.zeros((3, 3))
        # a shear moves two components: dE = V (σ_ij ε_ij + σ_ji ε_ji) = V σ_ij STRAIN
        e[i, j] = e[j, i] = STRAIN / 2 if i != j else STRAIN
        fd = (strained_energy(atoms, e) - strained_energy(atoms, -e)) / (2 * STRAIN * volume)
        assert stress[i, j] == pytest.approx(fd, rel=0.03, abs=2e-4), (i, j)
    # the pressure: −dE/dV from an isotropic change of volume, positive for this compressed cell
    iso = np.eye(3) * STRAIN / 3
    dedv = (strained_energy(atoms, iso) - strained_energy(atoms, -iso)) / (2 * STRAIN * volume)
    pressure = -np.trace(stress) / 3
    assert pressure == pytest.approx(-dedv, rel=0.03, abs=2e-4) and pressure > 0.005  # > 8 kbar
