"""Resumable background runner: CHGNet (or another engine) melts at 5000 K of published compositions, compared
with the paper's DFT and M3GNet partial RDFs.

Run by hand (one core):  OMP_NUM_THREADS=1 python benchmarks/validation_melts.py --engine chgnet [FORMULA ...]
Each finished composition appends one row to ``docs/validation/<engine>_melt.csv`` and writes its RDF to
``docs/validation/rdf/<engine>_<formula>.csv``; compositions already in the CSV are skipped, and an interrupted
one resumes from its MD checkpoint (same work directory). Settings are stated in the CSV rows. A composition
whose protocol fails (an MD blow-up, no volume convergence) appends its one-line reason to
``docs/validation/<engine>_melt_failed.csv`` and is tried again on the next call (``--start-density`` may help).

``--start-density guess`` (default) packs at :func:`amorphdb.guess_density`; ``--start-density chgnet`` at the
density CHGNet's melt of the same composition settled at (``chgnet_melt.csv``): the same start for both
engines, much less compressed than the guess for Li-rich compositions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import amorphdb
from amorphdb.analysis.rdf import partial_rdfs, read_rdf_csv, rdf_r2, write_rdf_csv
from amorphdb.errors import first_line

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "docs" / "validation"
# Li-containing, varied chemistry (oxide, sulfide, selenide, halides, nitride, phosphide, silicides, alloys)
DEFAULT = ["Li2O2", "LiS", "LiSiCl", "Li7P2", "LiSiN", "Li9I2", "Li2SiF", "LiSe", "Li4Al", "Li3B4", "LiSi2O",
           "Li2Mg", "LiSiBr", "Li7As2", "LiAg", "Li2C", "Li9Se2", "Li4O", "LiSiS", "Li2SiI"]
SETTINGS = dict(atoms=100, volume_steps=500, check_steps=500, production_steps=1500, frame_interval=5,
                checkpoint_interval=250, max_energy_reruns=1, analysis_frames=20)
FIELDS = ["formula", "engine", "n_atoms", "density_g_cm3", "pressure_kbar", "T_mean_K", "rdf_r2_dft",
          "rdf_r2_m3gnet", "m3gnet_r2_dft", "D_Li_cm2_s", "D_Li_err", "md_steps", "wall_s", "settings"]
FAILED_FIELDS = ["formula", "engine", "start_density_g_cm3", "reason", "wall_s", "settings"]


def append_row(table: Path, fields: list[str], row: dict) -> None:
    """Append ``row`` to the CSV file ``table``, writing the header ``fields`` first when the file is new."""
    new = not table.exists()
    with table.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fields)
        if new:
            w.writeheader()
        w.writerow(row)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("formulas", nargs="*", default=DEFAULT)
    p.add_argument("--engine", default="chgnet")
    p.add_argument("--reference", default=str(HERE.parent / "shared" / "data" / "paper" / "rdf"))
    p.add_argument("--db", default=str(Path.home() / "amorphdb-validation.sqlite"))
    p.add_argument("--start-density", choices=["guess", "chgnet"], default="guess",
                   help="pack at guess_density (default) or at CHGNet's melt density of the composition")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=N", help="override an integer of SETTINGS "
                   "(e.g. atoms=48 production_steps=600); the row's settings column records them")
    args = p.parse_args()
    settings = {**SETTINGS, **{k: int(v) for k, v in (item.split("=", 1) for item in args.set)}}
    OUT.joinpath("rdf").mkdir(parents=True, exist_ok=True)
    table = OUT / f"{args.engine}_melt.csv"
    done = set()
    if table.exists():
        with table.open() as fh:
            done = {row["formula"] for row in csv.DictReader(fh)}
    ref = Path(args.reference)
    chgnet = pd.read_csv(OUT / "chgnet_melt.csv").set_index("formula")["density_g_cm3"] \
        if args.start_density == "chgnet" else None
    described = ";".join(f"{k}={v}" for k, v in settings.items()) + f";start_density={args.start_density}" \
        + ("_melt" if args.start_density == "chgnet" else "_density")
    for formula in args.formulas:
        if formula in done:
            continue
        start = time.perf_counter()
        if chgnet is not None and formula not in chgnet.index:
            print(f"{formula}: skipped: no CHGNet melt density in chgnet_melt.csv", flush=True)
            continue
        density = amorphdb.guess_density(formula) if chgnet is None else float(chgnet[formula])
        try:
            result = amorphdb.run(formula, preset="paper", engine=args.engine, temperatures=[], db=args.db,
                                  workdir=Path.home() / "amorphdb-validation-runs", progress=False,
                                  analyse=False, density=density, **settings)
        except amorphdb.AmorphDBError as exc:
            print(f"{formula}: failed: {exc}", flush=True)
            append_row(OUT / f"{args.engine}_melt_failed.csv", FAILED_FIELDS,
                       dict(formula=formula, engine=args.engine, start_density_g_cm3=round(density, 4),
                            reason=first_line(exc), wall_s=round(time.perf_counter() - start),
                            settings=described))
            continue
        melt = result.temperatures[0]
        from ase.io import read

        frames = read(melt.production.path, index=":")
        picks = np.linspace(len(frames) // 2, len(frames) - 1, settings["analysis_frames"])
        picks = np.unique(picks.round().astype(int))
        sample = [frames[i] for i in picks]
        for a in sample:
            a.wrap()
        ours = partial_rdfs(sample)
        write_rdf_csv(ours, OUT / "rdf" / f"{args.engine}_{formula}.csv")
        dft = read_rdf_csv(ref / f"DFT_RDF_{formula}.csv")
        m3g_path = ref / f"M3GNet_RDF_{formula}.csv"
        m3g = read_rdf_csv(m3g_path) if m3g_path.exists() else None
        d = amorphdb.diffusion_from_trajectory(frames, dt_ps=settings["frame_interval"] * 2.0 / 1000).get("Li")
        row = dict(formula=formula, engine=args.engine, n_atoms=melt.production.n_atoms,
                   density_g_cm3=round(melt.production.density, 4),
                   pressure_kbar=round(melt.production.pressure("virial"), 2),
                   T_mean_K=round(melt.production.temperature_mean, 1),
                   rdf_r2_dft=round(rdf_r2(dft, ours), 4),
                   rdf_r2_m3gnet=round(rdf_r2(m3g, ours), 4) if m3g is not None else "",
                   m3gnet_r2_dft=round(rdf_r2(dft, m3g), 4) if m3g is not None else "",
                   D_Li_cm2_s=f"{d.D:.3e}" if d else "", D_Li_err=f"{d.D_err:.1e}" if d and d.D_err else "",
                   md_steps=sum(json.loads(f.read_text())["n_steps"]
                                for f in Path(result.workdir).rglob("*.result.json")),
                   wall_s=round(time.perf_counter() - start), settings=described)
        append_row(table, FIELDS, row)
        print(f"{formula}: {row}", flush=True)


if __name__ == "__main__":
    import logging

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")  # a line per stage
    main()
