"""The fast route's feature shifts, measured: the same composition through a short preset, a longer run of the
same cell, and the paper's AIMD row at the same temperature (docs/learning.md, "The fast route").

    # 1. the protocol at a preset (CHGNet), into a database
    OMP_NUM_THREADS=1 python benchmarks/fast_route_shift.py run Li2O --temperatures 1500 2500 --presets quick \
        --db /tmp/fr/db.sqlite --workdir /tmp/fr/runs
    # 2. a longer NVT run continuing a production run (same cell, volume and temperature)
    OMP_NUM_THREADS=1 python benchmarks/fast_route_shift.py extend /tmp/fr/runs/Li2O-.../T1500/production-0.traj \
        --temperature 1500 --steps 1500 --out /tmp/fr/long-Li2O-1500.traj
    # 3. the shifts of the features and of the default model's ln D, per composition and temperature
    python benchmarks/fast_route_shift.py report --db /tmp/fr/db.sqlite --long Li2O:1500:/tmp/fr/long-Li2O-1500.traj

``report`` prints per row: ln D of the default model on the AIMD features, on the long run's and on the
preset's, the published AIMD Einstein D, and the feature shifts (preset − long, long − AIMD) in units of the
feature's spread over the published table; then the RMS of each term, the numbers of
``amorphdb/data/fast_route_uncertainty.csv``.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd


def _run(args: argparse.Namespace) -> None:
    import amorphdb

    for formula in args.formulas:
        for preset in args.presets:
            start = time.perf_counter()
            result = amorphdb.run(formula, preset=preset, temperatures=args.temperatures, db=args.db,
                                  workdir=args.workdir, progress=False)
            print(f"{formula} {preset}: {time.perf_counter() - start:.0f} s wall, "
                  + ", ".join(f"{t.temperature:g} K D(Li)={t.diffusion['Li'].D:.2e}" for t in result.temperatures
                              if "Li" in t.diffusion), flush=True)


def _extend(args: argparse.Namespace) -> None:
    from ase.io import read

    from amorphdb.engines import load_engine
    from amorphdb.md.runner import run_nvt

    atoms = read(args.trajectory, index=-1)
    start = time.perf_counter()
    result = run_nvt(atoms, load_engine("chgnet").calculator, temperature=args.temperature, n_steps=args.steps,
                     path=args.out, timestep=2.0, frame_interval=5, checkpoint_interval=100, tdamp=100.0, seed=7,
                     stage=f"long {args.temperature:g} K", progress=False)
    print(f"{args.steps} steps of {len(atoms)} atoms in {time.perf_counter() - start:.0f} s; "
          f"mean T {result.temperature_mean:.0f} K", flush=True)


def _features_of(path: str, temperature: float, n: int) -> dict[str, float]:
    from ase.io import read

    from amorphdb.analysis.features import trajectory_features

    frames = read(path, index=":")
    frames = frames[len(frames) // 5:]  # the first fifth re-equilibrates the fresh velocities
    for atoms in frames:
        atoms.wrap()
    return trajectory_features(frames, n_samples=n, temperature=temperature)


def _report(args: argparse.Namespace) -> None:
    from amorphdb.analysis.features import FEATURE_COLUMNS
    from amorphdb.data import paper_dir
    from amorphdb.database import Database
    from amorphdb.learning.default import default_model
    from amorphdb.units import PAPER_D_UNIT, PAPER_TARGET, einstein_d

    model = default_model()
    paper = pd.read_csv(paper_dir() / "ml_features.csv")
    spread = paper[FEATURE_COLUMNS].std()
    db = Database(args.db)
    rows = []
    for item in args.long:
        formula, t, path = item.split(":", 2)
        t = float(t)
        aimd = paper[(paper["formula"] == formula) & (paper["temperature"] == t)]
        runs = db.query(source="mlip-chgnet", temperature=t)
        runs = runs[(runs["formula"] == formula) & (runs["stage"] == "production")]
        short = db.features(int(runs["run_id"].iloc[-1]))
        long = _features_of(path, t, args.frames)
        table = pd.DataFrame([{"formula": formula, "temperature": t, **{c: f[c] for c in FEATURE_COLUMNS}}
                              for f in (aimd.iloc[0].to_dict(), long, short)])
        # one row at a time: `best` averages the composition features of the rows of one formula it is given
        ln = np.array([model.predict(table.iloc[[i]])["ln_D"].iloc[0] for i in range(len(table))])
        d_aimd = float(einstein_d(aimd[PAPER_TARGET].iloc[0] * PAPER_D_UNIT))
        shift_short = {c: (short[c] - long[c]) / spread[c] for c in FEATURE_COLUMNS}
        shift_mlip = {c: (long[c] - aimd[c].iloc[0]) / spread[c] for c in FEATURE_COLUMNS}
        rows.append({"formula": formula, "T": t, "lnD_aimd_features": ln[0], "lnD_long": ln[1], "lnD_short": ln[2],
                     "lnD_AIMD_published_einstein": np.log(d_aimd), "mlip_shift": ln[1] - ln[0],
                     "short_shift": ln[2] - ln[1],
                     **{f"short:{c}": v for c, v in shift_short.items()},
                     **{f"mlip:{c}": v for c, v in shift_mlip.items()}})
    out = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(out[["formula", "T", "lnD_aimd_features", "lnD_long", "lnD_short", "lnD_AIMD_published_einstein",
               "mlip_shift", "short_shift"]].round(3).to_string(index=False))
    base = model.predict(paper)["ln_D"].to_numpy()
    for term in ("mlip", "short"):
        cols = [c for c in out.columns if c.startswith(f"{term}:")]
        mean = out[cols].mean().rename(lambda c: c.split(":", 1)[1])
        top = mean.abs().sort_values(ascending=False).index[:12]
        print(f"\n{term} shift of the features (mean over rows, in units of the published table's spread):")
        print(" ".join(f"{c} {mean[c]:+.2f}" for c in top))
        print(f"RMS of the {term} shift of ln D: {np.sqrt(np.mean(out[f'{term}_shift'] ** 2)):.3f} "
              f"over {len(out)} measured rows")
        # the same feature shift added to every published row: how much it moves the model there
        moved = paper.copy()
        for c in FEATURE_COLUMNS:
            moved[c] = moved[c] + mean[c] * spread[c]
        delta = model.predict(moved)["ln_D"].to_numpy() - base
        print(f"the measured {term} feature shift on all {len(paper)} published rows: "
              f"Δ ln D mean {delta.mean():+.3f}, "
              f"RMS {np.sqrt(np.mean(delta ** 2)):.3f}, 95th percentile of |Δ| {np.percentile(np.abs(delta), 95):.3f}")
    if args.csv:
        out.to_csv(args.csv, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("run")
    p.add_argument("formulas", nargs="+")
    p.add_argument("--temperatures", type=float, nargs="+", default=[1500.0, 2500.0])
    p.add_argument("--presets", nargs="+", default=["quick"])
    p.add_argument("--db", required=True)
    p.add_argument("--workdir", required=True)
    p = sub.add_parser("extend")
    p.add_argument("trajectory")
    p.add_argument("--temperature", type=float, required=True)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--db", required=True)
    p.add_argument("--long", nargs="+", required=True, metavar="FORMULA:T:TRAJ")
    p.add_argument("--frames", type=int, default=20, help="frames of the long run averaged for its features")
    p.add_argument("--csv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    {"run": _run, "extend": _extend, "report": _report}[args.what](args)


if __name__ == "__main__":
    main()
