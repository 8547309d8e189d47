"""The Nosé–Hoover chain integrator on its own: it follows ASE's NoseHooverChainNVT, a step is one force call
split around it, the state round-trips bit for bit, and bad settings are refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.md.nose_hoover_chain import NoseHooverChainNVT

from amorphdb.errors import InputError
from amorphdb.md.integrator import (atoms_energy_forces, conserved_energy, nvt_advance, nvt_finish, nvt_init,
                                    nvt_step)
from amorphdb.md.state import MDState


def _copper():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.calc = EMT()
    return atoms


def test_follows_ase_nose_hoover_chain():
    atoms = _copper()
    # ASE's chain counts 3N degrees of freedom (ours 3N - 3, see the module): count alike to compare
    state = replace(nvt_init(atoms, 900, 2.0, 40.0, seed=3), n_dof=3 * len(atoms))
    ase_atoms = atoms.copy()
    ase_atoms.calc = EMT()
    ase_atoms.set_momenta(state.momenta)
    dyn = NoseHooverChainNVT(ase_atoms, timestep=2.0 * units.fs, temperature_K=900, tdamp=40.0 * units.fs)
    moved = atoms.copy()
    moved.calc = EMT()
    energy_forces = atoms_energy_forces(moved)
    for _ in range(200):
        state = nvt_step(state, energy_forces)
        dyn.step()
    # same scheme, rounding apart: 200 steps of a chaotic system stay within 1e-10 Å
    assert state.step == 200
    assert np.abs(state.positions - ase_atoms.positions).max() < 1e-10
    assert np.abs(state.momenta - ase_atoms.get_momenta()).max() < 1e-9
    assert np.allclose(state.eta, dyn._thermostat._eta, rtol=1e-9, atol=1e-12)
    assert np.allclose(state.p_eta, dyn._thermostat._p_eta, rtol=1e-9, atol=1e-12)
    assert conserved_energy(state) == pytest.approx(dyn.get_conserved_energy(), abs=1e-9)


def test_a_step_is_one_force_call_and_leaves_its_input_alone():
    atoms = _copper()
    state = nvt_init(atoms, 600, 2.0, seed=1)
    before = {k: np.copy(v) for k, v in state.to_arrays().items()}
    calls = []
    inner = atoms_energy_forces(atoms)

    def energy_forces(positions):
        calls.append(positions.copy())
        return inner(positions)

    after = nvt_step(state, energy_forces)
    assert len(calls) == 1 and np.array_equal(calls[0], after.positions)
    assert all(np.array_equal(v, state.to_arrays()[k]) for k, v in before.items())
    # the two halves around the force call make the same step (the seam for several replicas per model call)
    moved = nvt_advance(state)
    assert np.array_equal(moved.positions, after.positions) and moved.step == 0
    again = nvt_finish(moved, *inner(moved.positions))
    assert all(np.array_equal(v, after.to_arrays()[k]) for k, v in again.to_arrays().items())
    assert after.step == again.step == 1 and after.energy == atoms.get_potential_energy()


def test_init_draws_momenta_at_the_temperature_without_drift():
    atoms = _copper()
    state = nvt_init(atoms, 1200, 1.0, seed=7)
    assert atoms.get_momenta().any() == False  # noqa: E712 (input untouched)
    assert np.allclose(state.momenta.sum(axis=0), 0.0, atol=1e-10)
    # exactly 1200 K over the 3N - 3 degrees of freedom the chain counts (not 3N/(3N - 3) x 1200 K)
    assert state.n_dof == 3 * len(atoms) - 3
    assert state.instantaneous_temperature() == pytest.approx(1200, rel=1e-12)
    assert 2 * state.kinetic_energy() == pytest.approx(state.n_dof * units.kB * 1200, rel=1e-12)
    assert state.tdamp == 100.0 and state.step == 0 and not state.eta.any() and not state.p_eta.any()
    assert np.array_equal(nvt_init(atoms, 1200, 1.0, seed=7).momenta, state.momenta)
    assert not np.array_equal(nvt_init(atoms, 1200, 1.0, seed=8).momenta, state.momenta)
    assert state.energy == atoms.get_potential_energy() and np.array_equal(state.forces, atoms.get_forces())


@pytest.mark.parametrize("repeat", [(1, 1, 2), (2, 1, 1), (2, 2, 2)])
def test_small_cells_start_at_the_target_temperature(repeat):
    # 8, 8 and 32 atoms with mixed masses: without the rescale over 3N - 3 they started 3N/(3N - 3) too hot
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
    atoms.symbols[::2] = "Ag"
    atoms.calc = EMT()
    for seed in range(5):
        state = nvt_init(atoms, 1000, 2.0, seed=seed)
        assert state.instantaneous_temperature() == pytest.approx(1000, rel=1e-12)
        assert np.abs(state.momenta.sum(axis=0)).max() < 1e-10


def test_init_from_a_state_keeps_the_atoms_and_resets_the_chain():
    atoms = _copper()
    energy_forces = atoms_energy_forces(atoms)
    hot = nvt_init(atoms, 2000, 2.0, 50.0, seed=2)
    for _ in range(20):
        hot = nvt_step(hot, energy_forces)
    cold = nvt_init(hot, 300, 1.0, chain_length=4)
    assert np.array_equal(cold.positions, hot.positions) and np.array_equal(cold.momenta, hot.momenta)
    assert cold.temperature == 300 and cold.timestep == 1.0 and cold.tdamp == 100.0 and cold.step == 0
    assert cold.eta.shape == (4,) and not cold.p_eta.any() and hot.p_eta.any()


def test_state_round_trips_bit_for_bit():
    atoms = _copper()
    state = nvt_step(nvt_init(atoms, 800, 2.0, seed=4), atoms_energy_forces(atoms))
    copy = MDState.from_arrays({k: np.array(v) for k, v in state.to_arrays().items()})
    assert all(np.array_equal(v, state.to_arrays()[k]) for k, v in copy.to_arrays().items())
    assert isinstance(copy.step, int) and isinstance(copy.energy, float)


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=0.0, timestep=1.0), "positive temperature"),
    (dict(temperature=300.0, timestep=float("nan")), "positive temperature and timestep"),
    (dict(temperature=300.0, timestep=1.0, tdamp=-5.0), "positive tdamp"),
    (dict(temperature=300.0, timestep=1.0, chain_length=0), "chain length"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        nvt_init(_copper(), **kwargs)


def test_constraints_and_missing_forces_are_refused():
    atoms = _copper()
    atoms.set_constraint(FixAtoms([0]))
    with pytest.raises(InputError, match="constraints"):
        nvt_init(atoms, 300, 1.0)
    with pytest.raises(InputError, match="needs energy_forces or a calculator"):
        nvt_init(bulk("Cu", "fcc", a=3.61, cubic=True), 300, 1.0)
    with pytest.raises(InputError, match="at least 2 atoms"):
        nvt_init(bulk("Cu", "fcc", a=3.61), 300, 1.0, energy_forces=lambda x: (0.0, 0 * x))
