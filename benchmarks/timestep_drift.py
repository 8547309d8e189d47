"""Nosé–Hoover conserved-energy drift of a CHGNet melt at 5000 K for several timesteps (the 2 fs check).

Run by hand (one core):  OMP_NUM_THREADS=1 python benchmarks/timestep_drift.py START.traj [--steps 400]
Starts every run from the last frame of ``START.traj`` (a ~100-atom melt at 5000 K), runs NVT at 5000 K with
timesteps 2, 1 and 0.5 fs (Nosé–Hoover damping time ``--tdamp``, default the protocol's 200 fs), and appends
one row per run to ``docs/validation/timestep_drift.csv``: the drift of
the conserved energy (slope of a linear fit over the run, meV/atom/ps, from ``MDResult.conserved_drift``),
the simulated time, the mean temperature and the wall time. Timesteps already in the CSV are skipped.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from ase.io import read

from amorphdb.composition import parse_formula
from amorphdb.engines import load_engine
from amorphdb.md.runner import run_nvt

from validation_melts import append_row  # benchmarks/, the script's folder, is on sys.path

OUT = Path(__file__).resolve().parent.parent / "docs" / "validation" / "timestep_drift.csv"
FIELDS = ["formula", "n_atoms", "density_g_cm3", "timestep_fs", "tdamp_fs", "n_steps", "time_ps", "T_mean_K",
          "drift_meV_atom_ps", "abs_drift_meV_atom", "wall_s", "engine"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("start", help="trajectory of a melt; its last frame is the start")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--timesteps", type=float, nargs="+", default=[2.0, 1.0, 0.5])
    p.add_argument("--temperature", type=float, default=5000.0)
    p.add_argument("--tdamp", type=float, default=200.0, help="Nosé–Hoover damping time, fs (the protocol's)")
    p.add_argument("--out", type=Path, default=OUT, help=f"CSV file of the rows (default {OUT.name})")
    args = p.parse_args()
    atoms = read(args.start, index=-1)
    atoms.wrap()
    engine = load_engine("chgnet", device="cpu")
    done = set()
    if args.out.exists():
        with args.out.open() as fh:
            done = {(float(r["timestep_fs"]), float(r["tdamp_fs"] or 100 * float(r["timestep_fs"])))
                    for r in csv.DictReader(fh)}
    for dt in args.timesteps:
        if (dt, args.tdamp) in done:
            continue
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = run_nvt(atoms, engine.calculator, temperature=args.temperature, n_steps=args.steps,
                          path=Path(tmp) / "drift.traj", timestep=dt, tdamp=args.tdamp, frame_interval=50,
                          seed=3,
                          stage=f"drift {dt} fs", progress=False)
        time_ps = args.steps * dt / 1000
        row = dict(formula=parse_formula(atoms.get_chemical_formula()).reduced_formula, n_atoms=len(atoms),
                   density_g_cm3=round(res.density, 3), timestep_fs=dt, tdamp_fs=args.tdamp, n_steps=args.steps,
                   time_ps=time_ps,
                   T_mean_K=round(res.temperature_mean), drift_meV_atom_ps=round(res.conserved_drift * 1e3, 3),
                   abs_drift_meV_atom=round(res.conserved_drift * 1e3 * time_ps, 3),
                   wall_s=round(time.perf_counter() - start), engine=engine.version)
        append_row(args.out, FIELDS, row)
        print(row, flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
