"""Protocol settings: the presets, overrides and their checks, and the `amorphdb run` options built from them."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from amorphdb.cli import build_parser
from amorphdb.errors import InputError
from amorphdb.protocol.settings import PRESETS, ProtocolSettings, setting_info, settings_for


def test_presets_and_overrides():
    paper = PRESETS["paper"]
    assert (paper.atoms, paper.volume_steps, paper.check_steps, paper.production_steps, paper.timestep) == (
        100, 2000, 2000, 10000, 2.0)
    assert paper.scales == (0.8, 1.0, 1.2) and paper.pressure_convention == "virial"
    assert (paper.pressure_tolerance, paper.energy_tolerance, paper.rescale_beta) == (5.0, 0.001, 5e-7)
    assert (paper.max_rescales, paper.max_energy_reruns, paper.melt_temperature) == (14, 3, 5000.0)
    assert paper.temperatures == (1000.0, 1500.0, 2000.0, 2500.0)
    s = settings_for("quick", atoms=40, temperatures=[900, 1100], pressure_convention="total")
    assert s.atoms == 40 and s.temperatures == (900.0, 1100.0) and s.pressure_convention == "total"
    assert settings_for("quick", atoms=None) == PRESETS["quick"]  # None keeps the preset's value
    # the temperature list is not part of the fingerprint (the melt is shared); every other number is
    assert s.fingerprint() == settings_for("quick", atoms=40, pressure_convention="total").fingerprint()
    assert s.fingerprint() != settings_for("quick", atoms=40).fingerprint()


def test_fast_preset_is_the_paper_cell_with_statistical_tests_and_adaptive_lengths():
    paper, fast = PRESETS["paper"], PRESETS["fast"]
    assert (fast.atoms, fast.temperatures, fast.melt_temperature, fast.timestep) == (
        paper.atoms, paper.temperatures, paper.melt_temperature, paper.timestep)
    assert (fast.volume_steps, fast.check_steps, fast.production_steps) == (2000, 2000, 10000)  # the maxima
    assert fast.convergence == "statistical" and fast.pressure_error_fraction and fast.target_d_error
    assert paper.convergence == "paper" and paper.pressure_error_fraction is None and paper.target_d_error is None
    # D fitted from 0.5 ps on, 10 % of the shortest production: the error of D falls as the run goes on
    assert fast.fit_start_ps == 0.5 == 0.1 * fast.shortest_production_ps() and paper.fit_start_ps is None
    # fast quenches hottest first, each from the volume of the one before; paper's are independent, as given
    assert fast.quench_order() == (2500.0, 2000.0, 1500.0, 1000.0) and paper.quench_order() == paper.temperatures
    # a check's mean |P| below 2.5 kbar and below 2 % of the bulk modulus (the volume within ~2 %); paper: neither
    assert (fast.pressure_target, fast.density_target) == (2.5, 0.02)
    assert (paper.pressure_target, paper.density_target) == (None, None)


def test_settings_added_later_enter_the_fingerprint_only_when_set():
    paper = PRESETS["paper"]
    assert dataclasses.replace(paper, energy_sigmas=3.0).fingerprint() == paper.fingerprint()
    changed = {dataclasses.replace(paper, convergence="statistical").fingerprint(),
               dataclasses.replace(paper, target_d_error=0.1).fingerprint(),
               dataclasses.replace(paper, pressure_error_fraction=0.3).fingerprint(), PRESETS["fast"].fingerprint(),
               dataclasses.replace(paper, fit_start_ps=1.0, target_d_error=0.1).fingerprint(),
               dataclasses.replace(paper, eos_error_fraction=0.6).fingerprint(),
               dataclasses.replace(paper, rescale="secant").fingerprint(),
               dataclasses.replace(paper, rescale="secant", quench_eos="skip").fingerprint(),
               dataclasses.replace(paper, min_check_steps=1000).fingerprint(),
               dataclasses.replace(paper, quench_start="previous").fingerprint(),
               dataclasses.replace(paper, quench_start="trend").fingerprint(),
               dataclasses.replace(paper, pressure_target=2.5).fingerprint(),
               dataclasses.replace(paper, density_target=0.02).fingerprint(),
               dataclasses.replace(paper, density_target=0.02, target_modulus_error=0.3).fingerprint(),
               dataclasses.replace(paper, unresolved_energy="floor").fingerprint()}
    assert len(changed) == 15 and paper.fingerprint() not in changed
    assert dataclasses.replace(paper, quench_start="melt").fingerprint() == paper.fingerprint()
    # without a stop rule the fit start changes only the analysis: the same runs, the same work directory
    assert dataclasses.replace(paper, fit_start_ps=1.0).fingerprint() == paper.fingerprint()
    info = {i.name: i for i in setting_info()}
    assert info["target_d_error"].text().startswith("production stops") and "paper off" in info["target_d_error"].text()
    assert info["target_d_error"].text().endswith("fast 0.1)")
    assert "guessed from element data" in info["density"].text()


def test_fingerprints_are_stable():
    # the fingerprint names the work directories and run keys of existing databases: it must never change
    assert (PRESETS["quick"].fingerprint(), PRESETS["paper"].fingerprint()) == ("a6c83128", "289c0145")


@pytest.mark.parametrize("preset, overrides, message", [
    ("slow", {}, "unknown preset"),
    ("quick", {"convergence": "strict"}, "convergence must be 'paper' or 'statistical'"),
    ("quick", {"energy_sigmas": 0.0}, "energy sigmas"),
    ("quick", {"pressure_confidence": 1.0}, "pressure confidence"),
    ("quick", {"pressure_error_fraction": -0.1}, "pressure and EOS error fractions"),
    ("quick", {"eos_error_fraction": 0.0}, "pressure and EOS error fractions"),
    ("quick", {"rescale": "newton"}, "rescale must be 'beta' or 'secant'"),
    ("quick", {"quench_eos": "skip"}, "quench_eos = skip needs rescale = secant"),
    ("quick", {"rescale_growth": 0.5}, "the rescale growth must be at least 1, got 0.5"),
    ("quick", {"rescale_growth": 2.0}, "the rescale growth divides the secant's bulk modulus: it needs rescale = "
                                       "secant"),
    ("quick", {"quench_start": "hotter"}, "quench_start must be 'melt' or 'previous' or 'trend'"),
    ("quick", {"pressure_target": 20.0}, "pressure target must be positive and at most the pressure tolerance"),
    ("quick", {"density_target": 2.0}, r"density target must be a fraction in \(0, 1\), got 2.0"),
    ("quick", {"target_modulus_error": 0.0, "density_target": 0.02},
     r"target modulus error must be a fraction in \(0, 1\), got 0.0"),
    ("quick", {"target_modulus_error": 0.3}, "target modulus error sets the B of the density target: it needs a "
                                             "density target"),
    ("quick", {"unresolved_energy": "ignore"}, "unresolved_energy must be 'paper' or 'floor'"),
    ("quick", {"target_d_error": float("nan")}, "target D error"),
    ("quick", {"min_production_steps": 1}, "minimum run lengths"),
    ("quick", {"fit_start_ps": 0.5}, r"D fit start must be positive and below half the production run "
                                     r"\(0.5 ps\), got 0.5 ps"),
    ("fast", {"fit_start_ps": 11.0}, r"below half the production run \(10 ps\)"),
    ("quick", {"fit_start_ps": -0.1}, "D fit start must be positive"),
    ("quick", {"atom": 3}, "unknown setting"),
    ("quick", {"atoms": 0}, "atoms must be at least 1"),
    ("quick", {"temperatures": [-100]}, "temperatures must be positive"),
    ("quick", {"temperatures": [float("nan")]}, "temperatures must be positive and finite"),
    ("quick", {"melt_temperature": float("inf")}, "temperatures must be positive and finite"),
    ("quick", {"temperatures": [1000, 1000]}, "must be distinct"),
    ("quick", {"temperatures": [5000]}, "differ from the melt temperature"),
    ("quick", {"timestep": float("nan")}, "timestep"),
    ("quick", {"density": float("nan")}, "density must be positive"),
    ("quick", {"packing_tolerance": 0.0}, "packing tolerance"),
    ("quick", {"timestep": 0}, "timestep"),
    ("quick", {"scales": [1.0]}, "volume scales"),
    ("quick", {"pressure_convention": "kinetic"}, "pressure convention must be 'virial' or 'total'"),
    ("quick", {"production_steps": 502}, r"^production_steps = 502: run lengths and the checkpoint interval must be "
                                         r"multiples of frame_interval = 5"),
    ("quick", {"volume_steps": 101, "check_steps": 99}, r"^volume_steps = 101, check_steps = 99: "),
    ("quick", {"checkpoint_interval": 52}, r"^checkpoint_interval = 52: .* multiples of frame_interval = 5"),
    ("fast", {"frame_interval": 3}, r"^volume_steps = 2000, check_steps = 2000, production_steps = 10000, "
                                    r"checkpoint_interval = 100: "),
    ("predict", {"frame_interval": 0}, "frame and checkpoint intervals must be >= 1"),
])
def test_bad_settings(preset, overrides, message):
    with pytest.raises(InputError, match=message):
        settings_for(preset, **overrides)


def test_presets_end_every_run_on_a_written_frame():
    # a run writes every frame_interval-th step: its length, and the checkpoints where adaptive runs stop, must
    # fall on a frame, whose last one the next stage starts from
    for name, preset in PRESETS.items():
        assert preset.validate() is preset, name
        lengths = (preset.volume_steps, preset.check_steps, preset.production_steps, preset.checkpoint_interval)
        assert all(n % preset.frame_interval == 0 for n in lengths), name
    # a minimum length is only a threshold: the run still stops at a checkpoint (or its maximum)
    assert settings_for("quick", min_volume_steps=53, min_production_steps=301).min_volume_steps == 53
    assert settings_for("quick", frame_interval=10, production_steps=600).frame_interval == 10


def test_every_setting_has_typed_help():
    info = {i.name: i for i in setting_info()}
    assert list(info) == [f.name for f in dataclasses.fields(ProtocolSettings)]
    assert all(i.help and i.kind in (int, float, str) for i in info.values())
    assert (info["atoms"].kind, info["timestep"].kind, info["density"].kind) == (int, float, float)
    assert info["temperatures"].many and info["scales"].many and not info["atoms"].many
    assert info["pressure_convention"].choices == ("virial", "total")
    assert info["timestep"].text() == "MD timestep, fs (default 2)"
    assert "(paper 100, quick 24, predict 64" in info["atoms"].text()


def _run_options() -> dict:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["run"]
    return {a.dest: a for a in sub._actions}


def test_run_command_has_an_option_built_from_every_setting():
    options = _run_options()
    for info in setting_info():
        action = options[info.name]
        assert action.option_strings == ["--" + info.name.replace("_", "-")]
        assert action.type is info.kind and action.default is None  # None: the preset's value
        assert action.nargs == ("+" if info.many else None)
        assert action.choices == info.choices
        assert action.help == info.text().replace("%", "%%")  # argparse formats its help with %
    args = build_parser().parse_args(["run", "Li3PS4", "--atoms", "48", "--rescale-beta", "1e-6",
                                      "--temperatures", "1000", "1500", "--pressure-convention", "total"])
    assert args.atoms == 48 and args.rescale_beta == 1e-6 and args.temperatures == [1000.0, 1500.0]
    assert args.pressure_convention == "total" and args.timestep is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "Cu", "--pressure-convention", "kinetic"])


def test_settings_and_the_cli_parser_import_no_heavy_library():
    code = ("import sys; from amorphdb.cli import build_parser; import amorphdb.protocol.settings; build_parser(); "
            "heavy = [m for m in ('ase', 'numpy', 'torch', 'sqlalchemy') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_cell_too_large_for_the_memory_is_refused_in_one_line():
    from amorphdb.protocol.settings import max_atoms, memory_needed

    with pytest.raises(InputError, match=r"atoms = 100000 needs about \d+ GiB; \d+ GiB available allow at most \d+ atoms"):
        settings_for("quick", atoms=100000)
    assert memory_needed(100000) > 224 * 2**30  # the MemoryError it used to die with asked 224 GiB for one array
    cap = max_atoms(16 * 2**30)
    assert memory_needed(cap) <= 16 * 2**30 < memory_needed(cap + 1) and 1000 < cap < 5000
    assert settings_for("quick", atoms=100).atoms == 100


def test_python_values_are_coerced_as_the_cli_gives_them():
    # 2 and 2.0 are one protocol (one fingerprint, one work directory); one temperature is a list of one
    assert settings_for("paper", timestep=2, tdamp=200).fingerprint() == PRESETS["paper"].fingerprint()
    assert settings_for("quick", temperatures=1000).temperatures == (1000.0,)
    assert settings_for("quick", atoms=48.0).atoms == 48 and isinstance(settings_for("quick", atoms=48.0).atoms, int)
    for overrides, message in [({"atoms": "100"}, "atoms must be a number, got '100'"),
                               ({"atoms": 10.5}, "atoms must be a whole number"),
                               ({"temperatures": "1000"}, "temperatures must be a list of numbers"),
                               ({"convergence": 1}, "convergence must be text"),
                               ({"temperatures": [1500, 1500.0001]}, "must be distinct"),  # both would be T1500
                               ({"scales": [0.8, 1.0, 1.0000001]}, "distinct positive volume scales"),
                               ({"seed": -1}, "seed must not be negative")]:
        with pytest.raises(InputError, match=message):
            settings_for("quick", **overrides)
