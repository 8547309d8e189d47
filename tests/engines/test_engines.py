"""Engines: ASE calculators by spec, element coverage, a light package import, and the real CHGNet/SevenNet
with their shipped weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk

from amorphdb.composition import scale_composition
import amorphdb
from amorphdb.engines import Engine, check_elements, load_engine
from amorphdb.engines.base import Potential
from amorphdb.errors import EngineError
from amorphdb.md.runner import run_nvt
from amorphdb.structure import random_packing


def test_factory_engine_and_probe_coverage():
    engine = load_engine("ase.calculators.emt:EMT")
    assert isinstance(engine, Potential) and engine.device == "cpu"
    assert engine.name == "emt" and "ase" in engine.version and engine.elements is None
    check_elements(engine, "Cu3Au")  # EMT has Cu and Au parameters
    with pytest.raises(EngineError, match="does not cover element Li"):
        check_elements(engine, "LiCu")
    # factories of other modules carry a hash of the spec: two modules' "make" never share a source
    from amorphdb.engines.ase_factory import factory_name

    assert factory_name("ase.calculators.lj:LennardJones") == "lennardjones"
    a, b = factory_name("lab_a.potentials:make"), factory_name("lab_b.potentials:make")
    assert a.startswith("make-") and b.startswith("make-") and a != b and factory_name("lab_a.potentials:make") == a


@pytest.mark.parametrize("spec, message", [
    ("nonsense", "unknown engine"),
    ("no_such_module_xyz:Calc", "cannot load engine"),
    ("ase.calculators.emt:NoSuchFactory", "cannot load engine"),
    ("builtins:dict", "not an ASE calculator"),
    (":EMT", "with an absolute module name"),  # importlib's ValueError, once a traceback
    (".emt:EMT", "with an absolute module name"),  # importlib's TypeError
    ("ase.calculators.emt:", "with an absolute module name"),
])
def test_bad_engine_specs(spec, message):
    with pytest.raises(EngineError, match=message):
        load_engine(spec)


def test_bad_devices_are_refused_in_one_line():
    import torch

    with pytest.raises(EngineError, match="unknown device 'gpu'"):
        load_engine("chgnet", device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="torch sees no GPU"):
            load_engine("chgnet", device="cuda")


@pytest.mark.slow
def test_chgnet_real_weights_on_a_tiny_cell(tmp_path, capsys):
    engine = load_engine("chgnet", device="cpu")
    # CHGNet prints its banner; it must not reach stdout, which is the output of `amorphdb validate --json`
    out = capsys.readouterr()
    assert out.out == "" and "CHGNet" in out.err
    assert engine.name == "chgnet" and engine.version.startswith("0.")
    assert {"Li", "P", "S", "Bi", "Ac"} <= engine.elements and "Am" not in engine.elements  # CHGNet: Z = 1..94
    assert len(engine.elements) == 89 and not {"Po", "At", "Rn", "Fr", "Ra"} & engine.elements  # not in MPtrj
    check_elements(engine, "Li3PS4")
    with pytest.raises(EngineError, match="element Am"):
        check_elements(engine, "AmO2")
    atoms = random_packing(scale_composition("Li3PS4", 8), seed=2).to_ase_atoms()
    atoms.calc = engine.calculator
    assert np.isfinite(atoms.get_potential_energy())
    assert np.isfinite(atoms.get_forces()).all() and np.isfinite(atoms.get_stress()).all()
    result = run_nvt(atoms, engine.calculator, temperature=1500, n_steps=6, path=tmp_path / "chgnet.traj",
                     progress=False)
    assert result.n_frames == 7 and np.isfinite(result.energy) and np.isfinite(result.pressure_virial)
    # a compressed cell has a positive pressure (ASE's stress sign convention)
    small = bulk("Li", "bcc", a=3.0, cubic=True)
    small.calc = engine.calculator
    assert -small.get_stress()[:3].mean() > 0


@pytest.mark.slow
def test_chgnet_single_backward_pass_gives_chgnets_own_energy_forces_and_stress():
    # our calculator takes forces and stress from one gradient; CHGNet's own takes two (amorphdb/engines/chgnet.py)
    from ase import Atoms
    from chgnet.model.dynamics import CHGNetCalculator

    ours = load_engine("chgnet", device="cpu").calculator
    theirs = CHGNetCalculator(model=ours.model, use_device="cpu", on_isolated_atoms="ignore")
    packed = random_packing(scale_composition("Li3PS4", 16), seed=3).to_ase_atoms()
    lif = bulk("LiF", "rocksalt", a=3.85, cubic=True)
    lif.rattle(0.05, seed=1)
    sheared = Atoms("Li2S", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.3, 0.7]],
                    cell=[[4.0, 0.0, 0.0], [1.1, 4.2, 0.0], [0.6, -0.9, 4.5]], pbc=True)  # triclinic
    for atoms in (packed, lif, sheared):
        a, b = atoms.copy(), atoms.copy()
        a.calc, b.calc = ours, theirs
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), rel=1e-6)
        assert np.abs(a.get_forces() - b.get_forces()).max() < 1e-4  # eV/Å, float32
        assert np.abs(a.get_stress() - b.get_stress()).max() < 1e-6  # eV/Å3 (1e-6 is 1.6 bar)
        assert np.abs(b.get_forces()).max() > 0.1 and np.abs(b.get_stress()).max() > 1e-4  # not all zero


@pytest.mark.slow
def test_sevennet_real_weights():
    engine = load_engine("sevennet", device="cpu")
    assert engine.name == "sevennet" and {"Li", "P", "S"} <= engine.elements
    missing = sorted(set(["Po", "At", "Rn", "Fr", "Ra"]) - engine.elements)
    assert missing, "7net-0 is expected to leave out some heavy elements"
    with pytest.raises(EngineError, match=f"element {missing[0]}"):
        check_elements(engine, f"Li{missing[0]}")
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    atoms.calc = engine.calculator
    assert np.isfinite(atoms.get_potential_energy()) and np.isfinite(atoms.get_forces()).all()


def test_engine_is_the_former_name_of_potential():
    assert Engine is Potential and amorphdb.Engine is Potential and amorphdb.Potential is Potential
    engine = Engine("lj", "1", object(), frozenset({"Ar"}))
    with pytest.raises(EngineError, match="does not cover element Kr"):
        check_elements(engine, "Kr")


def test_package_import_is_light():
    code = ("import sys, amorphdb.engines, amorphdb.engines.base; "
            "print(sorted(m for m in ('torch', 'chgnet', 'sevenn', 'ase', 'pymatgen') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
