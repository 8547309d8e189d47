"""The state of one NVT run: every number the next step needs, in one object that a checkpoint saves whole.

Units are ASE's, so that arrays pass to and from ``ase.Atoms`` unconverted: positions Å (unwrapped, never
folded back into the cell), momenta amu·Å per ASE time unit (1 fs = ``ase.units.fs`` ≈ 0.0982 of it),
forces eV/Å, energies eV, masses amu; the run's settings are in K and fs.

The state does not hold a calculator: the forces come from outside (an ``energy_forces`` callable, see
:mod:`.integrator`), so that several replicas could later share one model call. Arrays are per atom
(leading axis n_atoms) and the thermostat chain is per system.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from ase import units


@dataclass(frozen=True, eq=False)
class MDState:
    """Positions, momenta, forces and Nosé–Hoover chain of one system after ``step`` steps.

    ``energy`` (eV) and ``forces`` (eV/Å) belong to ``positions``: they come from the same model call.
    ``eta`` / ``p_eta`` are the chain's positions (dimensionless) and momenta (eV × ASE time), first
    element coupled to the particles. ``n_dof``: the degrees of freedom the thermostat and the temperature
    count, 3N − 3 when the centre-of-mass momentum is removed (it then stays zero: forces sum to zero and the
    thermostat only scales momenta). ``temperature`` (K), ``timestep`` and ``tdamp`` (fs) are the
    integrator's settings, kept here so that a saved state resumes without them.
    """

    positions: np.ndarray
    momenta: np.ndarray
    forces: np.ndarray
    energy: float
    masses: np.ndarray
    numbers: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    eta: np.ndarray
    p_eta: np.ndarray
    n_dof: int
    temperature: float
    timestep: float
    tdamp: float
    step: int = 0

    @property
    def n_atoms(self) -> int:
        return len(self.masses)

    def kinetic_energy(self) -> float:
        """Kinetic energy (eV)."""
        return 0.5 * float(np.sum(self.momenta**2 / self.masses[:, None]))

    def instantaneous_temperature(self) -> float:
        """2 E_kin / (n_dof k_B) in K."""
        return 2.0 * self.kinetic_energy() / (self.n_dof * units.kB)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every field as a numpy array (scalars 0-d), for ``np.savez``; the inverse of :meth:`from_arrays`."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MDState:
        """The state saved by :meth:`to_arrays` (bit for bit); ``KeyError`` names a missing field."""
        values = {f.name: arrays[f.name] for f in fields(cls)}
        for name in ("energy", "temperature", "timestep", "tdamp"):
            values[name] = float(values[name])
        values["step"] = int(values["step"])
        values["n_dof"] = int(values["n_dof"])
        return cls(**values)
