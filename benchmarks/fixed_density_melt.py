"""A short 5000 K NVT melt of one composition at a given density, its partial RDFs against the paper's DFT and
M3GNet ones: the cheapest look at an engine's liquid structure (no volume search: the density is given).

Run by hand (one core):
    OMP_NUM_THREADS=1 python benchmarks/fixed_density_melt.py Li2O2 --engine sevennet --density 1.431 --atoms 48
Appends one row to ``docs/validation/<engine>_fixed_density.csv`` and writes the RDF to
``docs/validation/rdf/<engine>_fixed_<formula>.csv``. The RDF averages the frames of the second half.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from ase.io import read

from amorphdb.analysis.rdf import partial_rdfs, rdf_r2, write_rdf_csv
from amorphdb.composition import scale_composition
from amorphdb.engines import load_engine
from amorphdb.md.runner import run_nvt
from amorphdb.structure import random_packing
from amorphdb.workflows.validation import load_reference

from validation_melts import append_row  # benchmarks/, the script's folder, is on sys.path

OUT = Path(__file__).resolve().parent.parent / "docs" / "validation"
FIELDS = ["formula", "engine", "n_atoms", "density_g_cm3", "steps", "timestep_fs", "T_mean_K", "pressure_kbar",
          "rdf_r2_dft", "rdf_r2_m3gnet", "m3gnet_r2_dft", "conserved_drift_meV_atom_ps", "wall_s"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("formula")
    p.add_argument("--engine", default="sevennet")
    p.add_argument("--density", type=float, required=True, help="g/cm3")
    p.add_argument("--atoms", type=int, default=48)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    start = time.perf_counter()
    engine = load_engine(args.engine, device="cpu")
    composition = scale_composition(args.formula, args.atoms, mode="nearest")
    atoms = random_packing(composition, args.density, seed=1).to_ase_atoms()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_nvt(atoms, engine.calculator, temperature=5000.0, n_steps=args.steps, path=Path(tmp) / "melt.traj",
                      frame_interval=5, progress=False, stage=f"{args.engine} {args.formula} 5000 K")
        frames = read(res.path, index=f"{len(read(res.path, index=':')) // 2}:")
    for a in frames:
        a.wrap()
    ours = partial_rdfs(frames)
    write_rdf_csv(ours, OUT / "rdf" / f"{args.engine}_fixed_{args.formula}.csv")
    ref = load_reference()
    dft, m3g = ref.rdf(args.formula, "DFT"), ref.rdf(args.formula, "M3GNet")
    row = dict(formula=args.formula, engine=engine.version, n_atoms=res.n_atoms, density_g_cm3=round(res.density, 3),
               steps=args.steps, timestep_fs=res.timestep, T_mean_K=round(res.temperature_mean),
               pressure_kbar=round(res.pressure_virial, 1), rdf_r2_dft=round(rdf_r2(dft, ours), 4),
               rdf_r2_m3gnet=round(rdf_r2(m3g, ours), 4) if m3g is not None else "",
               m3gnet_r2_dft=round(rdf_r2(dft, m3g), 4) if m3g is not None else "",
               conserved_drift_meV_atom_ps=round(res.conserved_drift * 1e3, 3),
               wall_s=round(time.perf_counter() - start))
    table = OUT / f"{args.engine}_fixed_density.csv"
    append_row(table, FIELDS, row)
    print(row, flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
