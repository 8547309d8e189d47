"""``amorphdb validate``: comparisons with known answers on a generated reference directory, runs read back from a
real SQLite database, the command line, bad input, and the whole path with real MD (EMT copper, CHGNet LiF)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk

from amorphdb.analysis.rdf import partial_rdfs, write_rdf_csv
from amorphdb.cli import main
from amorphdb.data import paper_dir
from amorphdb.database import Database
from amorphdb.errors import InputError
from amorphdb.protocol.settings import PRESETS
from amorphdb.reports.validation import summarise, validation_markdown, write_validation
from amorphdb.units import AMU_PER_A3_IN_G_PER_CM3, KB_EV, PAPER_D_FACTOR
from amorphdb.workflows.validation import OurResult, compare, load_reference, validate

TEMPS = (1000.0, 1500.0, 2000.0, 2500.0)
EA_REF = 0.4  # eV
REF_DENSITY = {1000.0: 2.0, 1500.0: 2.4, 2000.0: 2.3, 2500.0: 2.2}  # g/cm³


def d_ref(t: float) -> float:
    """The reference's Einstein D(Li), cm²/s: exactly Arrhenius with EA_REF."""
    return 1e-3 * math.exp(-EA_REF / (KB_EV * t))


def lif_rdf() -> pd.DataFrame:
    return partial_rdfs(bulk("LiF", "rocksalt", a=4.03).repeat(2))


def write_reference(root, formula: str, rdf: pd.DataFrame | None, *, density: dict | None = None,
                    m3gnet: pd.DataFrame | None = None, with_d: bool = True):
    """A reference directory in the published layout for ``formula``: table rows at TEMPS with the Einstein D of
    :func:`d_ref` written in the paper's convention (× PAPER_D_FACTOR, in 1e-3 cm²/s) and AAV giving
    ``density``; the feature columns copied from a row of the shipped table."""
    template = pd.read_csv(paper_dir() / "ml_features.csv").iloc[0]
    density = density or REF_DENSITY
    rows = []
    for t in TEMPS:
        row = template.copy()
        row["formula"], row["temperature"] = formula, t
        row["diff_coeff_mul_thousand"] = d_ref(t) * PAPER_D_FACTOR / 1e-3 if with_d else 0.0
        row["AAV"] = template["avg_m_with_Li"] * AMU_PER_A3_IN_G_PER_CM3 / density[t]
        rows.append(row)
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "ml_features.csv", index=False)
    if rdf is not None:
        write_rdf_csv(rdf, root / "rdf" / f"DFT_RDF_{formula}.csv")
    if m3gnet is not None:
        write_rdf_csv(m3gnet, root / "rdf" / f"M3GNet_RDF_{formula}.csv")
    return root


def ours_lif(rdf: pd.DataFrame) -> OurResult:
    return OurResult("LiF", "mlip-chgnet", rdf, {1000.0: 2.5, 1500.0: 2.4},
                     {1000.0: 2 * d_ref(1000.0), 1500.0: 2 * d_ref(1500.0)}, 0.5,
                     Ea_temperatures=(1000.0, 1500.0))


def check_lif_record(rec, m3gnet: pd.DataFrame, rdf: pd.DataFrame, ea: float = 0.5) -> None:
    assert rec.formula == "LiF" and rec.error is None
    assert rec.rdf_r2 == pytest.approx(1.0)
    dft, m3g = rdf.drop(columns="r").to_numpy(), m3gnet.drop(columns="r").to_numpy()

    def r2(ref: np.ndarray, cand: np.ndarray) -> float:  # pooled over pairs and bins
        return 1 - np.sum((ref - cand) ** 2) / np.sum((ref - ref.mean()) ** 2)

    assert rec.m3gnet_rdf_r2 == pytest.approx(r2(dft, m3g)) and 0 < rec.m3gnet_rdf_r2 < 1
    assert rec.rdf_r2_m3gnet == pytest.approx(r2(m3g, dft)) != rec.m3gnet_rdf_r2
    assert rec.density_ratio == pytest.approx({1000.0: 1.25, 1500.0: 1.0})
    # the published D are 3 × Einstein: ours are 2 × the reference's Einstein D, not 2/3
    assert rec.D_ratio == pytest.approx({1000.0: 2.0, 1500.0: 2.0})
    assert rec.Ea_ref == pytest.approx(EA_REF, abs=1e-9) and rec.Ea_diff == pytest.approx(ea - EA_REF, abs=1e-9)


@pytest.fixture
def lif(tmp_path):
    rdf = lif_rdf()
    m3gnet = rdf.assign(**{c: rdf[c] * 1.1 for c in rdf.columns if c != "r"})
    return rdf, m3gnet, write_reference(tmp_path / "ref", "LiF", rdf, m3gnet=m3gnet)


def test_compare_gives_the_known_answers(lif):
    rdf, m3gnet, root = lif
    ref = load_reference(root)
    assert ref.formulas() == ["LiF"] and ref.formulas(with_d=True) == ["LiF"]
    rec = compare(ours_lif(rdf), ref)
    check_lif_record(rec, m3gnet, rdf)
    d = rec.to_dict()
    assert d["D_ratio"] == {"1000": pytest.approx(2.0), "1500": pytest.approx(2.0)}
    assert {"formula", "rdf_r2", "density_ratio", "D_ratio", "Ea_diff"} <= set(d)
    json.dumps(d)


def test_aimd_ea_is_taken_over_our_temperatures(tmp_path):
    # a bent Arrhenius plot: the AIMD Ea over 2000-2500 K differs from the fit over all four temperatures, and
    # our Ea over 2000-2500 K is compared with the former (two temperatures fix the slope exactly); a window the
    # reference does not cover entirely gives no comparison rather than the Ea of a narrower one
    root = write_reference(tmp_path / "ref", "LiF", lif_rdf())
    table = pd.read_csv(root / "ml_features.csv")
    table["diff_coeff_mul_thousand"] *= np.where(table["temperature"] >= 2000, 1.0, 0.5)
    table.to_csv(root / "ml_features.csv", index=False)
    ref = load_reference(root)
    d = ref.diffusivity("LiF")
    kt = {t: KB_EV * t for t in (2000.0, 2500.0)}
    exact = -np.log(d[2500.0] / d[2000.0]) / (1 / kt[2500.0] - 1 / kt[2000.0])
    assert ref.activation_energy("LiF", [2000.0, 2500.0]) == pytest.approx(exact)
    assert ref.activation_energy("LiF", [2000.0, 2500.0, 5000.0]) is None
    assert ref.activation_energy("LiF", [2500.0]) is None
    ours = OurResult("LiF", "mlip-chgnet", None, {}, {2000.0: d[2000.0], 2500.0: d[2500.0]}, exact + 0.1,
                     {2000.0: 0.1 * d[2000.0]}, 0.05, (2000.0, 2500.0))
    rec = compare(ours, ref)
    assert rec.Ea_ref == pytest.approx(exact) and rec.Ea_diff == pytest.approx(0.1)
    assert abs(rec.Ea_ref_all - exact) > 0.05  # the four-temperature fit is not the comparison
    md = validation_markdown([rec.to_dict()])
    assert "2000: 1.00 ± 0.10, 2500: 1.00" in md and "+0.100 ± 0.050" in md
    assert "Within 1σ / 2σ of our error bar of 1: 1 / 1 of 1." in md
    assert rec.Ea_note is None


def test_no_ea_difference_when_the_reference_lacks_one_of_our_temperatures(tmp_path):
    # ours over 2000-3000 K, the reference up to 2500 K: its Ea over 2000-2500 K would be another window
    ref = load_reference(write_reference(tmp_path / "ref", "LiF", lif_rdf()))
    d = {t: 2 * d_ref(t) for t in (2000.0, 2500.0, 3000.0)}
    rec = compare(OurResult("LiF", "mlip-emt", None, {}, d, EA_REF, Ea_temperatures=tuple(d)), ref)
    assert rec.Ea == EA_REF and rec.Ea_ref is None and rec.Ea_diff is None
    assert rec.Ea_note == "the reference lacks 3000 K" and rec.to_dict()["Ea_note"] == rec.Ea_note
    assert rec.Ea_ref_all == pytest.approx(EA_REF, abs=1e-9)  # shown beside, not compared
    assert rec.D_ratio == pytest.approx({2000.0: 2.0, 2500.0: 2.0})
    assert "| – (the reference lacks 3000 K) |" in validation_markdown([rec.to_dict()])
    assert summarise([rec.to_dict()])["Ea_diff"]["n"] == 0
    # all of ours in the reference: compared, no note
    d.pop(3000.0)
    rec = compare(OurResult("LiF", "mlip-emt", None, {}, d, EA_REF, Ea_temperatures=tuple(d)), ref)
    assert rec.Ea_diff == pytest.approx(0.0, abs=1e-9) and rec.Ea_note is None


def test_summary_counts_fractions_and_spreads():
    records = [{"formula": f"X{i}", "rdf_r2": v, "m3gnet_rdf_r2": 0.96, "density_ratio": {"1000": 1.0 + i / 10},
                "D_ratio": {"1000": 2.0}, "Ea_diff": -0.1 * i} for i, v in enumerate([0.8, 0.88, 0.93, 0.97])]
    records.append({"formula": "Bad", "error": "T1000: MD blew up", "rdf_r2": 0.99})  # its melt finished
    s = summarise(records)
    assert s["n"] == 5 and s["n_failed"] == 1
    assert s["rdf_r2"]["ours"]["above"] == {"0.85": 0.8, "0.9": 0.6, "0.95": 0.4}  # the failed one's melt too
    assert s["rdf_r2"]["same_compositions"]["m3gnet"] == {"0.85": 1.0, "0.9": 1.0, "0.95": 1.0}
    assert s["density_ratio"]["median"] == pytest.approx(1.15) and s["density_ratio"]["n"] == 4
    assert s["D_ratio"]["by_temperature"]["1000"]["median"] == 2.0
    assert s["Ea_diff"]["median"] == pytest.approx(-0.15)
    text = validation_markdown(records, s)
    assert "| X2 | 0.930 |" in text and "| Bad (failed: T1000: MD blew up) | 0.990 |" in text
    assert "80 % / 60 % / 40 %" in text and "Compositions: 5 (1 failed)." in text


def test_r2_fractions_say_how_many_attempted_melts_finished():
    # 3 melts finished, 7 failed before an RDF, 1 without a DFT RDF to compare (not attempted for R²)
    records = ([{"formula": f"X{i}", "rdf_r2": 0.97, "m3gnet_rdf_r2": 0.9} for i in range(3)]
               + [{"formula": f"Y{i}", "rdf_r2": None, "m3gnet_rdf_r2": 0.99, "error": "melt: MD blew up"}
                  for i in range(7)]
               + [{"formula": "Z", "rdf_r2": None, "D_ratio": {"1000": 1.0}}])
    s = summarise(records)
    assert s["rdf_r2"]["ours"]["n"] == 3 and s["rdf_r2"]["ours"]["attempted"] == 10
    assert s["rdf_r2"]["ours"]["above"] == {"0.85": 1.0, "0.9": 1.0, "0.95": 1.0}  # over the finished ones
    text = validation_markdown(records, s)
    assert "above 0.85 / 0.9 / 0.95: 100 % / 100 % / 100 % (3 of 10 attempted finished)." in text
    assert "(3 of 3 attempted finished)" in validation_markdown(records[:3])


def test_stored_runs_are_compared_without_md_and_shown_to_the_web_explorer(lif, db, tmp_path, capsys):
    rdf, m3gnet, root = lif
    ours = ours_lif(rdf)
    paper, quick = PRESETS["paper"].fingerprint(), PRESETS["quick"].fingerprint()

    def stored_run(fingerprint: str, t: float, status: str = "done", d: float | None = None,
                   diffusive: bool = True) -> None:
        run_id = db.add_run("LiF", source="mlip-chgnet", temperature=t, stage="production", status=status,
                            key=f"{fingerprint}/T{t:g}/production/0", density=ours.density.get(t, 1.8 if t < 2500 else None))
        if t == 5000.0:  # another preset's melt has another liquid
            db.add_rdf(run_id, rdf if fingerprint == paper else rdf.assign(**{c: 2 * rdf[c] for c in rdf if c != "r"}))
        else:
            db.add_diffusivity(run_id, "Li", ours.D[t] if d is None else d, 1e-6 * (1 if d is None else 10),
                               method="msd", diffusive=diffusive)

    for t in (5000.0, 1000.0, 1500.0):
        stored_run(paper, t)
    # none of these may enter: later runs of other settings, one not finished, a non-diffusive D
    stored_run(quick, 1000.0, d=1.0)
    stored_run(paper + "x", 1500.0, d=1.0)
    stored_run(paper, 2000.0, status="failed", d=1.0)
    stored_run(paper, 2500.0, d=5 * d_ref(2500.0), diffusive=False)
    with pytest.raises(InputError, match=rf"no finished runs of mlip-chgnet with the settings of --preset fast "
                                         rf"\({PRESETS['fast'].fingerprint()}\) for LiF .*\(stored: runs of "
                                         rf"{paper}x, paper, quick; choose with --preset"):
        validate(["LiF"], reference=root, stored=True, db=db, preset="fast")
    [rec] = validate(["LiF"], reference=root, stored=True, db=db)
    check_lif_record(rec, m3gnet, rdf, ea=EA_REF)  # Ea from our two D, which follow the reference's slope
    assert rec.D_err == {1000.0: 1e-6, 1500.0: 1e-6} and set(rec.D) == {1000.0, 1500.0}
    rel = np.hypot(1e-6 / ours.D[1000.0], 1e-6 / ours.D[1500.0])  # two points: σ(Ea) = σ(Δ ln D) / Δ(1/kT)
    assert rec.Ea_err == pytest.approx(rel / (1 / (KB_EV * 1000.0) - 1 / (KB_EV * 1500.0)), rel=1e-6)
    assert rec.Ea_ref_all == pytest.approx(EA_REF, abs=1e-9)
    # the reference went into the same database, so the explorer's validation page compares the two
    from amorphdb.web.data import _validation

    found = _validation(db, "Li")
    rows = found["rdf_r2"]
    assert rows[rows["source"] == "mlip-chgnet"]["r2"].tolist() == [pytest.approx(1.0)]
    assert set(found["D"]["formula"]) == {"LiF"}
    # a later melt of another preset: the record keeps the RDF of its own settings' melt
    stored_run(quick, 5000.0)
    [rec] = validate(["LiF"], reference=root, stored=True, db=db)
    assert rec.rdf_r2 == pytest.approx(1.0)

    # the same through the command line, with the files of --out
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["validate", "LiF", "--reference", str(root), "--stored", "--json", "--db", str(db.url),
                 "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)[0]["D_ratio"] == {"1000": pytest.approx(2.0), "1500": pytest.approx(2.0)}
    assert f"wrote {out / 'validation.md'}" in printed.err  # not after the JSON on stdout
    for name in ("validation.md", "validation.json", "rdf_r2.png", "parity.png"):
        assert (out / name).stat().st_size > 100
    saved = json.loads((out / "validation.json").read_text())
    assert saved["records"][0]["D_ratio"] == {"1000": pytest.approx(2.0), "1500": pytest.approx(2.0)}


def test_stored_runs_at_other_temperatures_are_left_out(lif, db):
    rdf, _, root = lif
    fp = PRESETS["paper"].fingerprint()  # the same with any temperature list
    for t, factor in ((5000.0, 1.0), (1000.0, 5.0), (1500.0, 2.0), (2000.0, 2.0), (2500.0, 2.0), (3000.0, 9.0)):
        run_id = db.add_run("LiF", source="mlip-emt", temperature=t, stage="production", status="done",
                            key=f"{fp}/T{t:g}/production/0", density=2.0)
        if t == 5000.0:
            db.add_rdf(run_id, rdf)
        else:
            db.add_diffusivity(run_id, "Li", factor * d_ref(t), 0.05 * factor * d_ref(t), method="msd",
                               diffusive=True)
    kw = dict(reference=root, stored=True, db=db, engine=EMT_SPEC)
    [rec] = validate(["LiF"], temperatures=[2000.0, 2500.0], **kw)
    assert set(rec.D) == set(rec.D_ratio) == {2000.0, 2500.0} and set(rec.density) == {2000.0, 2500.0, 5000.0}
    assert rec.D_ratio == pytest.approx({2000.0: 2.0, 2500.0: 2.0})
    assert rec.Ea == pytest.approx(EA_REF) and rec.Ea_diff == pytest.approx(0.0, abs=1e-6)  # not bent by 1000 K
    assert rec.rdf_r2 == pytest.approx(1.0)
    [rec] = validate(["LiF"], melt_only=True, **kw)  # the melt only: RDFs, no D or Ea
    assert rec.rdf_r2 == pytest.approx(1.0) and set(rec.density) == {5000.0}
    assert rec.D == rec.D_ratio == {} and rec.Ea is None and rec.Ea_diff is None
    [rec] = validate(["LiF"], **kw)  # the preset's four, not 3000 K
    assert set(rec.D) == set(TEMPS) and rec.D_ratio[1000.0] == pytest.approx(5.0)


def test_write_validation_copes_with_records_without_d(tmp_path):
    paths = write_validation([{"formula": "AlSi", "rdf_r2": 0.9, "m3gnet_rdf_r2": 0.95}], tmp_path)
    assert "AlSi | 0.900" in paths[0].read_text()


@pytest.mark.parametrize("setup, args, message", [
    ("empty", ["LiF"], "has no ml_features.csv"),
    ("no-rdf", ["LiF"], "has no rdf/DFT_RDF_<formula>.csv"),
    ("missing", ["LiF"], "is not a directory"),
    ("good", ["Li2S"], "Li2S is not in the reference"),
    ("good", [], "give formulas or --from-paper N"),
    ("good", ["LiF", "--from-paper", "1"], "not both"),
    ("good", ["--from-paper", "2"], "--from-paper must be between 1 and 1"),
    ("good", ["LiF", "--stored"], "no finished runs of mlip-chgnet with the settings of --preset paper"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path, capsys, setup, args, message):
    root = tmp_path / "ref"
    if setup == "empty":
        root.mkdir()
    elif setup == "no-rdf":
        write_reference(root, "LiF", None)
    elif setup == "good":
        write_reference(root, "LiF", lif_rdf())
    db_path = tmp_path / "db.sqlite"
    code = main(["validate", *args, "--reference", str(root), "--db", str(db_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    if db_path.exists():  # nothing was run or stored
        assert Database(db_path).query().empty


def test_from_paper_picks_compositions_with_d_first():
    ref = load_reference()  # the shipped copy
    with_d = ref.formulas(with_d=True)
    assert len(with_d) == 165 and len(ref.formulas()) == 256
    assert with_d[:3] == ref.formulas()[:3]  # the three compositions with both an RDF and D come first
    assert all(ref.rdf(f) is not None and ref.diffusivity(f) for f in with_d[:3])
    assert ref.activation_energy(with_d[3]) > 0


EMT_SPEC = "ase.calculators.emt:EMT"
CU = dict(atoms=32, melt_temperature=2000.0, temperatures=[1400.0], volume_steps=80, check_steps=80,
          production_steps=300, frame_interval=5, checkpoint_interval=20, energy_tolerance=0.05)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:structure has no Li")
def test_validate_runs_the_protocol_with_emt_copper(tmp_path, db):
    # reference: the RDF of an fcc Cu crystal and densities at 1400 K; ours: an EMT melt at 2000 K and a quench
    root = write_reference(tmp_path / "ref", "Cu", partial_rdfs(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)),
                           density={t: 8.0 for t in TEMPS}, with_d=False)
    table = pd.read_csv(root / "ml_features.csv")
    table.loc[table["temperature"] == 1000.0, "temperature"] = 1400.0
    table.to_csv(root / "ml_features.csv", index=False)
    [rec] = validate(["Cu"], reference=root, engine=EMT_SPEC, preset="quick", db=db, workdir=tmp_path / "w",
                     progress=False, **CU)
    assert rec.error is None and rec.source == "mlip-emt"
    assert 0.0 < rec.rdf_r2 < 0.95  # a liquid against a crystal: similar first shell, no long-range order
    # the melt (2000 K) and the quench (1400 K) against the reference's 8 g/cm³ (liquid Cu: about 7.5-8)
    assert list(rec.density_ratio) == [1400.0, 2000.0]
    assert all(0.8 < v < 1.2 for v in rec.density_ratio.values())
    assert rec.D_ratio == {} and rec.Ea_diff is None  # no Li


@pytest.mark.slow
def test_validate_melt_only_with_chgnet_on_a_tiny_cell(tmp_path, db):
    root = write_reference(tmp_path / "ref", "LiF", lif_rdf())
    [rec] = validate(["LiF"], reference=root, engine="chgnet", preset="quick", melt_only=True, db=db,
                     workdir=tmp_path / "w", device="cpu", progress=False, atoms=8, volume_steps=20,
                     check_steps=20, production_steps=40, frame_interval=2, checkpoint_interval=20,
                     pressure_tolerance=1000.0, energy_tolerance=1.0, max_rescales=2, analysis_frames=5)
    assert rec.error is None and rec.source == "mlip-chgnet"
    assert rec.rdf_r2 is not None and math.isfinite(rec.rdf_r2) and rec.rdf_r2 < 1
    assert rec.density_ratio == {} and rec.D_ratio == {}  # the reference has no 5000 K density or D
