"""NVT with a Nosé–Hoover chain: an ``init`` / ``step`` pair on :class:`~amorphdb.md.state.MDState`.

The scheme is the Martyna–Tuckerman–Klein Trotter splitting that ASE's ``NoseHooverChainNVT`` uses (same
chain masses, 4th-order Suzuki–Yoshida weights, one chain loop), shaped as torch-sim's integrators are:
:func:`nvt_init` builds the state, :func:`nvt_step` advances it by one step, :func:`conserved_energy` gives
the extended energy whose drift measures the integration error. We write our own because ASE keeps the
chain variables in private attributes (``dyn._thermostat._eta``), which a checkpoint had to reach into;
here they are plain fields of the state.

One difference from ASE: the chain counts 3N − 3 degrees of freedom, not 3N. The centre-of-mass momentum
is removed at the start and stays zero, and a Nosé–Hoover chain samples the canonical ensemble only when it
counts the degrees of freedom that move (Tuckerman et al., J. Chem. Phys. 115, 1678 (2001)). With 3N the
3N − 3 moving degrees of freedom run hot by 3N/(3N − 3) and the kinetic energy does not have the canonical
distribution: 8 WCA atoms gave a relative variance of 0.083 ± 0.002 for the canonical 2/(3N − 3) = 0.095
(tests/md/test_md_thermostat.py; with 100 atoms the difference is 1 %).

A step is thermostat half-step, momentum half-kick, position drift, *force call*, half-kick, thermostat
half-step. :func:`nvt_advance` and :func:`nvt_finish` are the two halves around the force call, so that a
driver of several replicas can evaluate all their new positions in one model call between them.

References: G. J. Martyna, M. L. Klein, M. E. Tuckerman, J. Chem. Phys. 97, 2635 (1992);
M. E. Tuckerman et al., J. Phys. A 39, 5629 (2006).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from ase import Atoms, units
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from ..errors import InputError
from .state import MDState

#: positions (Å) → (potential energy eV, forces eV/Å); the one model call of a step
EnergyForces = Callable[[np.ndarray], tuple[float, np.ndarray]]

# 4th-order Suzuki–Yoshida weights (H. Yoshida, Phys. Lett. A 150, 262 (1990))
_CBRT2 = 2.0 ** (1.0 / 3.0)
_YOSHIDA = (1.0 / (2.0 - _CBRT2), -_CBRT2 / (2.0 - _CBRT2), 1.0 / (2.0 - _CBRT2))


def nvt_init(system: Atoms | MDState, temperature: float, timestep: float, tdamp: float | None = None,
             chain_length: int = 3, seed: int = 0, *, energy_forces: EnergyForces | None = None) -> MDState:
    """The state at step 0 of an NVT run at ``temperature`` K with ``timestep`` fs and chain damping time
    ``tdamp`` fs (default 100 × timestep), the chain at rest.

    From ``Atoms`` (not modified, at least 2 atoms): momenta drawn from Maxwell–Boltzmann (``seed``), the
    centre-of-mass momentum removed, then scaled so that the kinetic energy is exactly (3N − 3) kT/2: the
    instantaneous temperature over the 3N − 3 degrees of freedom is ``temperature``; energy and forces
    from ``energy_forces`` (default: the calculator attached to the atoms). From an ``MDState``: its
    positions, momenta and forces, a fresh chain and the new settings (e.g. a quench).
    """
    if not (math.isfinite(temperature) and temperature > 0 and math.isfinite(timestep) and timestep > 0):
        raise InputError(f"need a positive temperature and timestep, got {temperature} K, {timestep} fs")
    tdamp = 100.0 * timestep if tdamp is None else float(tdamp)
    if not (math.isfinite(tdamp) and tdamp > 0) or chain_length < 1:
        raise InputError(f"need a positive tdamp and chain length, got {tdamp} fs, {chain_length}")
    chain = {"eta": np.zeros(chain_length), "p_eta": np.zeros(chain_length), "temperature": float(temperature),
             "timestep": float(timestep), "tdamp": tdamp, "step": 0}
    if isinstance(system, MDState):
        return replace(system, **chain)
    if system.constraints:
        raise InputError("the NVT integrator does not support ASE constraints; remove them first")
    if len(system) < 2:
        raise InputError(f"NVT needs at least 2 atoms, got {len(system)}")
    if energy_forces is None and system.calc is None:
        raise InputError("nvt_init needs energy_forces or a calculator attached to the atoms")
    atoms = system.copy()
    thermalize_momenta(atoms, temperature, rng=np.random.default_rng(seed))
    Stationary(atoms, preserve_temperature=False)
    n_dof = 3 * len(atoms) - 3
    masses = atoms.get_masses()
    momenta = atoms.get_momenta()
    # Σ p²/m = n_dof kT exactly: the temperature the chain and the runner count is the target from step 0
    momenta *= math.sqrt(n_dof * units.kB * temperature / float(np.sum(momenta**2 / masses[:, None])))
    if energy_forces is None:
        atoms.calc = system.calc
        energy_forces = atoms_energy_forces(atoms)
    energy, forces = energy_forces(atoms.get_positions())
    return MDState(positions=atoms.get_positions(), momenta=momenta, forces=forces, energy=float(energy),
                   masses=masses, numbers=atoms.numbers.copy(), cell=atoms.cell[:].copy(), pbc=atoms.pbc.copy(),
                   n_dof=n_dof, **chain)


def nvt_step(state: MDState, energy_forces: EnergyForces) -> MDState:
    """``state`` advanced by one step; ``energy_forces`` is called once, at the new positions."""
    moved = nvt_advance(state)
    energy, forces = energy_forces(moved.positions)
    return nvt_finish(moved, energy, forces)


def nvt_advance(state: MDState) -> MDState:
    """First half of a step: thermostat half-step, half-kick, drift. The result has the new positions but
    still the old energy and forces; pass it with those of its positions to :func:`nvt_finish`."""
    dt = state.timestep * units.fs
    momenta, eta, p_eta = _thermostat(state, state.momenta, dt / 2)
    momenta = momenta + (dt / 2) * state.forces
    positions = state.positions + dt * momenta / state.masses[:, None]
    return replace(state, positions=positions, momenta=momenta, eta=eta, p_eta=p_eta)


def nvt_finish(state: MDState, energy: float, forces: np.ndarray) -> MDState:
    """Second half of a step from :func:`nvt_advance`: half-kick with the new ``forces`` (eV/Å), thermostat
    half-step; ``energy`` (eV) and ``forces`` are stored with the positions."""
    dt = state.timestep * units.fs
    momenta = state.momenta + (dt / 2) * forces
    momenta, eta, p_eta = _thermostat(state, momenta, dt / 2)
    return replace(state, momenta=momenta, forces=forces, energy=float(energy), eta=eta, p_eta=p_eta,
                   step=state.step + 1)


def chain_masses(state: MDState) -> np.ndarray:
    """Chain masses Q (eV × ASE time²): n_dof kT τ² for the first element, kT τ² for the others."""
    kt_tau2 = units.kB * state.temperature * (state.tdamp * units.fs) ** 2
    q = np.full(len(state.eta), kt_tau2)
    q[0] *= state.n_dof
    return q


def conserved_energy(state: MDState) -> float:
    """Extended energy (eV) the Nosé–Hoover chain conserves: potential + kinetic energy of the atoms,
    n_dof kT η₁ + kT Σ_{j>1} η_j + Σ p_η²/2Q of the chain. Its drift per step is the integration error."""
    kt = units.kB * state.temperature
    chain = (state.n_dof * kt * state.eta[0] + kt * float(np.sum(state.eta[1:]))
             + 0.5 * float(np.sum(state.p_eta**2 / chain_masses(state))))
    return state.energy + state.kinetic_energy() + chain


def _thermostat(state: MDState, momenta: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(iL_NHC δ): the chain of ``state`` acting on ``momenta`` over ``delta`` (ASE time), by
    Suzuki–Yoshida; returns the new (momenta, η, p_η).

    The particle momenta are only ever scaled, so their kinetic energy is tracked by the accumulated factor
    and the momenta are scaled once at the end. The chain is short: plain floats.
    """
    q = chain_masses(state).tolist()
    eta = state.eta.tolist()
    p = state.p_eta.tolist()
    kt = units.kB * state.temperature
    target0 = state.n_dof * kt
    ke2 = float(np.sum(momenta**2 / state.masses[:, None]))  # Σ p²/m = 2 E_kin
    m = len(p)
    scale = 1.0

    def kick(j: int, half: float, quarter: float) -> None:
        """p_η,j over ``half`` by its force, between two damping quarter-steps by the next element."""
        force = (ke2 - target0) if j == 0 else (p[j - 1] ** 2 / q[j - 1] - kt)
        if j == m - 1:
            p[j] += half * force
        else:
            damp = _exp(-quarter * p[j + 1] / q[j + 1])
            p[j] = (p[j] * damp + half * force) * damp

    for w in _YOSHIDA:
        d = w * delta
        for j in reversed(range(m)):
            kick(j, d / 2, d / 4)
        for j in range(m):
            eta[j] += d * p[j] / q[j]
        s = _exp(-d * p[0] / q[0])
        scale *= s
        ke2 *= s * s
        for j in range(m):
            kick(j, d / 2, d / 4)
    return momenta * scale, np.array(eta), np.array(p)


def _exp(x: float) -> float:
    """e^x, ``inf`` past the float range as numpy gives (a blown-up run then shows as non-finite)."""
    return math.exp(x) if x < 709.0 else math.inf


def atoms_energy_forces(atoms: Atoms) -> EnergyForces:
    """The :data:`EnergyForces` of the calculator attached to ``atoms``: it moves ``atoms`` to the positions
    asked for, so that the calculator's other results (stress) are read from ``atoms`` afterwards."""

    def energy_forces(positions: np.ndarray) -> tuple[float, np.ndarray]:
        atoms.set_positions(positions, apply_constraint=False)
        return atoms.get_potential_energy(), atoms.get_forces()

    return energy_forces
