"""Fill the results section of docs/validation.md from the CSV files the validation runners write.

    python benchmarks/validation_report.py

Reads ``docs/validation/<engine>_melt.csv`` (rows of ``benchmarks/validation_melts.py``: one 5000 K melt per
composition, settings in each row) with the RDFs ``docs/validation/rdf/<engine>_<formula>.csv``, and
``docs/validation/timestep_drift*.csv`` (``benchmarks/timestep_drift.py``). Each melt is compared with the
shipped AIMD reference through the validation API (:func:`amorphdb.workflows.validation.compare`, the same
code as ``amorphdb validate``), and the text between the two ``validation-results`` markers of
docs/validation.md is replaced by the tables and the distribution (:mod:`amorphdb.reports.validation`).
Run it again whenever the runners have added rows.

The quench-temperature section comes from ``docs/validation/predict-chgnet/`` (``validation.json`` and
``steps.csv``), which the stored runs of the validation campaign give:

    amorphdb validate FORMULA... --stored --preset predict --db URL --out docs/validation/predict-chgnet --json \
        > docs/validation/predict-chgnet/records.json
    python benchmarks/fast_route_coverage.py --db URL --cache DIR --out docs/validation/fast_route_coverage.csv
    # steps.csv: formula, md_steps (the sum of n_steps of the composition's runs of mlip-chgnet)
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from amorphdb.analysis.rdf import read_rdf_csv
from amorphdb.reports.validation import R2_THRESHOLDS, summarise
from amorphdb.workflows.validation import OurResult, compare, load_reference

HERE = Path(__file__).resolve().parent.parent
DATA = HERE / "docs" / "validation"
DOC = HERE / "docs" / "validation.md"
START, END = "<!-- validation-results:start -->", "<!-- validation-results:end -->"


def _pct(values: dict) -> str:
    return " / ".join("–" if v is None else f"{100 * v:.0f} %" for v in values.values())


def failed_lines(engine: str) -> list[str]:
    """The compositions whose melt failed (``<engine>_melt_failed.csv``; the last attempt of each, none that a
    later attempt finished), with the start density and reason."""
    path, done = DATA / f"{engine}_melt_failed.csv", DATA / f"{engine}_melt.csv"
    if not path.exists():
        return []
    failed = pd.read_csv(path).drop_duplicates("formula", keep="last")
    if done.exists():
        failed = failed[~failed["formula"].isin(pd.read_csv(done)["formula"])]
    if failed.empty:
        return []
    return [f"Failed ({len(failed)}; `{path.relative_to(HERE)}`):", ""] + [
        f"- {r.formula}: packed at {r.start_density_g_cm3:.3f} g/cm³ (`{r.settings.rsplit('start_density=', 1)[-1]}`),"
        f" {r.reason} ({r.wall_s:.0f} s)" for r in failed.itertuples()] + [""]


def melt_section(engine: str, reference) -> str:
    table_path = DATA / f"{engine}_melt.csv"
    if not table_path.exists():
        return "\n".join([f"### {engine}", "", f"No composition finished yet (`{table_path.relative_to(HERE)}` does "
                          "not exist).", "", *failed_lines(engine)])
    rows = pd.read_csv(table_path)
    records = []
    for row in rows.itertuples():
        ours = OurResult(row.formula, f"mlip-{engine}", read_rdf_csv(DATA / "rdf" / f"{engine}_{row.formula}.csv"))
        records.append(compare(ours, reference).to_dict())
    s = summarise(records)
    same = s["rdf_r2"]["same_compositions"]
    settings = sorted(set(rows["settings"]))
    lines = [f"### {engine}", "",
             f"{len(rows)} composition(s) done. Settings: " + "; ".join(f"`{x}`" for x in settings) + ".", "",
             "| formula | atoms | ρ (g/cm³) | P (kbar) | ⟨T⟩ (K) | R² vs DFT | R² M3GNet vs DFT "
             "| R² vs M3GNet | D(Li) 5000 K (cm²/s) | MD steps | wall (min) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row, rec in zip(rows.itertuples(), records):
        def f3(v):
            return "–" if v is None or pd.isna(v) else f"{v:.3f}"

        lines.append(f"| {row.formula} | {row.n_atoms} | {row.density_g_cm3:.3f} | {row.pressure_kbar:+.1f} | "
                     f"{row.T_mean_K:.0f} | {f3(rec['rdf_r2'])} | {f3(rec['m3gnet_rdf_r2'])} | "
                     f"{f3(rec['rdf_r2_m3gnet'])} | {'–' if pd.isna(row.D_Li_cm2_s) else f'{row.D_Li_cm2_s:.2e}'} | "
                     f"{row.md_steps} | {row.wall_s / 60:.0f} |")
    thresholds = " / ".join(f"{t:g}" for t in R2_THRESHOLDS)
    ours = s["rdf_r2"]["ours"]
    lines += ["", f"- R² against DFT: median {ours['median']:.3f} (n = {ours['n']}); above {thresholds}: "
              f"{_pct(ours['above'])}." if ours["n"] else "- R² against DFT: none yet.",
              f"- The paper's M3GNet on the same {same['n']} composition(s): {_pct(same['m3gnet'])}; "
              f"{engine}: {_pct(same['ours'])}.",
              f"- Cost: {rows['wall_s'].mean() / 60:.0f} min wall per composition on average "
              f"({rows['md_steps'].mean():.0f} MD steps, one CPU core of a 2-core machine shared with other MD "
              "jobs).", "", *failed_lines(engine)]
    return "\n".join(lines)


def quench_section(engine: str, preset: str) -> str:
    """D, density and Ea at the quench temperatures: the records of ``amorphdb validate --stored --out
    docs/validation/<preset>-<engine>`` (``validation.json``) and the MD steps per composition (``steps.csv``)."""
    folder = DATA / f"{preset}-{engine}"
    if not (folder / "validation.json").exists():
        return ""
    import json

    from amorphdb.reports.validation import validation_markdown

    data = json.loads((folder / "validation.json").read_text())
    table = validation_markdown(data["records"], data["summary"], label=engine)
    table = "\n".join(line for line in table.splitlines()
                      if "RDF R²" not in line and "Same 0 compositions" not in line)
    lines = [f"### {engine} at the quench temperatures (`{preset}` preset): density, D(Li), Ea", "", table, ""]
    if (folder / "steps.csv").exists():
        steps = pd.read_csv(folder / "steps.csv")
        lines += ["MD steps per composition (melt + quenches, every EOS, check and production run): "
                  + ", ".join(f"{r.formula} {r.md_steps}" for r in steps.itertuples())
                  + f"; median {steps['md_steps'].median():.0f}.", ""]
    return "\n".join(lines)


def fixed_section(engine: str) -> str:
    path = DATA / f"{engine}_fixed_density.csv"
    if not path.exists():
        return ""
    rows = pd.read_csv(path)
    lines = [f"### {engine}, fixed density (no volume search)", "",
             "| formula | atoms | ρ (g/cm³) | steps × Δt | ⟨T⟩ (K) | P (kbar) | R² vs DFT | R² M3GNet vs DFT "
             "| R² vs M3GNet | wall (min) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows.itertuples():
        lines.append(f"| {r.formula} | {r.n_atoms} | {r.density_g_cm3} | {r.steps} × {r.timestep_fs:g} fs | "
                     f"{r.T_mean_K} | {r.pressure_kbar:+.1f} | {r.rdf_r2_dft:.3f} | {r.m3gnet_r2_dft:.3f} | "
                     f"{r.rdf_r2_m3gnet:.3f} | {r.wall_s / 60:.0f} |")
    return "\n".join(lines) + "\n"


def drift_section() -> str:
    starts = {"timestep_drift.csv": "last frame of its 5000 K melt (100 atoms)",
              "timestep_drift_packed.csv": "random packing (48 atoms, PACKMOL)"}
    tables = [(DATA / name, start) for name, start in starts.items() if (DATA / name).exists()]
    if not tables:
        return "### Timestep\n\nNot measured yet (`docs/validation/timestep_drift.csv` does not exist).\n"
    lines = ["### Timestep: Nosé–Hoover conserved-energy drift at 5000 K (CHGNet)", "",
             "| start | system | atoms | ρ (g/cm³) | Δt (fs) | τ (fs) | steps | time (ps) | ⟨T⟩ (K) "
             "| drift (meV/atom/ps) | wall (s) |", "|" + " --- |" * 11]
    for path, start in tables:
        for r in pd.read_csv(path).itertuples():
            lines.append(f"| {start} | {r.formula} | {r.n_atoms} | {r.density_g_cm3} | {r.timestep_fs:g} | "
                         f"{r.tdamp_fs:g} | {r.n_steps} | {r.time_ps:g} | {r.T_mean_K} | "
                         f"{r.drift_meV_atom_ps:+.2f} | {r.wall_s} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    reference = load_reference()
    body = "\n".join(filter(None, [melt_section("chgnet", reference), quench_section("chgnet", "predict"),
                                   melt_section("sevennet", reference),
                      fixed_section("sevennet"), fixed_section("chgnet"), drift_section()]))
    text = DOC.read_text()
    block = f"{START}\n<!-- generated by benchmarks/validation_report.py; do not edit by hand -->\n\n{body}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
    print(body)


if __name__ == "__main__":
    main()
