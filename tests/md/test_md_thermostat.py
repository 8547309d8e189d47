"""Physical validation of the Nosé–Hoover chain on a small Lennard-Jones (WCA) fluid: the kinetic energy has
the canonical distribution, and the extended energy the chain conserves does not drift.

The system is small on purpose: 8 argon atoms with ASE's LennardJones cut at the minimum (WCA, purely
repulsive, a fluid at ρσ³ = 0.7, T = 120 K ≈ ε/k_B). The relative fluctuation of the kinetic energy is
2/N_dof, so with few atoms the test tells N_dof = 3N − 3 (the canonical count with the centre-of-mass
momentum removed) from ASE's 3N (0.095 against 0.083), which a large system could not. Measured here
(N_eff ≈ 3100): with 3N − 3, mean 1.000 ± 0.006 of N_dof kT/2, relative variance 0.098 ± 0.003, KS p = 0.8;
the same run counting 3N as ASE does fails all three (mean +14 %, 0.083 ± 0.002, p ~ 1e-92).
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.lj import LennardJones
from scipy import stats

from amorphdb.md.integrator import atoms_energy_forces, conserved_energy, nvt_init, nvt_step

SIGMA, EPSILON = 3.405, 0.0103  # argon, Å and eV (ε/k_B ≈ 120 K)
N_ATOMS, DENSITY, TEMPERATURE = 8, 0.7, 120.0  # density in σ⁻³, K
TIMESTEP, TDAMP = 5.0, 50.0  # fs (τ_LJ ≈ 2.2 ps)
N_STEPS, N_EQUILIBRATION = 24000, 2000


def _wca_fluid() -> Atoms:
    side = (N_ATOMS / DENSITY) ** (1 / 3) * SIGMA
    grid = np.array([(i, j, k) for i in range(2) for j in range(2) for k in range(2)]) * side / 2
    atoms = Atoms(f"Ar{N_ATOMS}", positions=grid + 0.3, cell=[side] * 3, pbc=True)
    # cut at the minimum 2^(1/6) σ, energy shifted to zero there (smooth=False): the WCA potential
    atoms.calc = LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=2 ** (1 / 6) * SIGMA, smooth=False)
    return atoms


def _integrated_autocorrelation_time(x: np.ndarray) -> float:
    """τ_int in samples (Sokal's automatic window, c = 5): the sample has n / (2 τ_int) independent values."""
    x = x - x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * spectrum.conj())[:n] / (x.var() * np.arange(n, 0, -1))
    tau = 0.5
    for lag in range(1, n):
        tau += acf[lag]
        if lag >= 5 * tau:
            break
    return tau


@pytest.fixture(scope="module")
def run() -> dict[str, np.ndarray | int]:
    atoms = _wca_fluid()
    energy_forces = atoms_energy_forces(atoms)
    state = nvt_init(atoms, TEMPERATURE, TIMESTEP, TDAMP, seed=5, energy_forces=energy_forces)
    kinetic, physical, conserved = (np.empty(N_STEPS) for _ in range(3))
    for i in range(N_STEPS):
        state = nvt_step(state, energy_forces)
        kinetic[i] = state.kinetic_energy()
        physical[i] = kinetic[i] + state.energy
        conserved[i] = conserved_energy(state)
    return {"kinetic": kinetic[N_EQUILIBRATION:], "physical": physical[N_EQUILIBRATION:],
            "conserved": conserved, "n_dof": state.n_dof}


@pytest.mark.slow
def test_kinetic_energy_has_the_canonical_distribution(run):
    ke, n_dof = run["kinetic"], run["n_dof"]
    assert n_dof == 3 * N_ATOMS - 3
    kt = units.kB * TEMPERATURE
    shape = n_dof / 2  # canonical: E_kin ~ Gamma(N_dof/2, kT), mean N_dof kT/2, relative variance 2/N_dof
    tau = _integrated_autocorrelation_time(ke)
    n_eff = len(ke) / (2 * tau)
    assert n_eff > 1500, f"too few independent samples ({n_eff:.0f}, τ = {tau:.1f} steps)"
    # mean: standard error from the effective sample size
    se_mean = ke.std() / np.sqrt(n_eff)
    assert abs(ke.mean() - shape * kt) < 4 * se_mean, (ke.mean() / (shape * kt), se_mean / (shape * kt))
    # relative variance: standard error of a sample variance, sqrt((m4 - var²) / n_eff), over the squared mean
    rel_var = ke.var() / ke.mean() ** 2
    m4 = np.mean((ke - ke.mean()) ** 4)
    se_rel_var = np.sqrt((m4 - ke.var() ** 2) / n_eff) / ke.mean() ** 2
    assert abs(rel_var - 1 / shape) < 4 * se_rel_var, (rel_var, 1 / shape, se_rel_var)
    # shape: Kolmogorov–Smirnov against the Gamma law on samples 2 τ_int apart (about independent)
    thinned = ke[:: int(np.ceil(2 * tau))]
    assert stats.kstest(thinned, stats.gamma(shape, scale=kt).cdf).pvalue > 1e-3


@pytest.mark.slow
def test_conserved_energy_does_not_drift(run):
    conserved, physical = run["conserved"], run["physical"]
    time_ps = np.arange(len(conserved)) * TIMESTEP / 1000.0
    drift = np.polyfit(time_ps, conserved, 1)[0] / N_ATOMS  # eV/atom/ps
    kt = units.kB * TEMPERATURE
    # over the 120 ps run the extended energy moves by < 2 % of kT per atom, while the physical energy
    # E_pot + E_kin, exchanged with the thermostat, fluctuates by about kT per atom
    assert abs(drift) * time_ps[-1] < 0.02 * kt, drift
    assert conserved.std() < 0.02 * physical.std(), (conserved.std(), physical.std())
    assert physical.std() / N_ATOMS > 0.3 * kt
