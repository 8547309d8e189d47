"""Benchmark: D per species, partial RDFs and the paper's features for a 10 000-frame, 100-atom trajectory.

Run by hand: ``python benchmarks/bench_analysis.py [--frames 10000] [--repeat 3] [--traj]``. Results go into
docs/analysis.md. The trajectory is synthetic but shaped like a production run of Li10GeP2S12 × 4
(100 atoms, 2 fs × 10 000 frames = 20 ps): Li random walkers with D = 1e-4 cm²/s among Ge, P, S vibrating
about random sites at liquid density. Timing the analysis, not the MD, is the point.

Baseline measured in the same run (the machine is shared, so compare ratios): pymatgen-analysis-diffusion's
``DiffusionAnalyzer`` on the same displacements (FFT MSD, OLS fit) for D of Li.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np


def synthetic_run(n_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Unwrapped positions (n_frames, 100, 3) Å, the cubic cell (3, 3) and symbols of a Li10GeP2S12 × 4 melt."""
    rng = np.random.default_rng(seed)
    symbols = ["Li"] * 40 + ["Ge"] * 4 + ["P"] * 8 + ["S"] * 48
    edge = 12.0  # Å: 100 atoms, 0.058 atoms/Å³
    dt, d_li = 0.002, 1.0  # ps per frame; Å²/ps
    sites = rng.random((1, 100, 3)) * edge
    walk = np.cumsum(rng.normal(0, np.sqrt(2 * d_li * dt), (n_frames, 40, 3)), axis=0)
    vib = rng.normal(0, 0.15, (n_frames, 60, 3))
    positions = sites + np.concatenate([walk, vib], axis=1)
    return positions, np.eye(3) * edge, symbols


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--traj", action="store_true", help="also time writing and reading an ASE .traj file")
    args = parser.parse_args()

    from ase import Atoms

    from amorphdb.analysis.diffusion import diffusivity
    from amorphdb.analysis.features import features
    from amorphdb.analysis.rdf import partial_rdfs
    from amorphdb.analysis.trajectory import Trajectory

    positions, cell, symbols = synthetic_run(args.frames)
    dt = 0.002
    traj = Trajectory(positions, np.broadcast_to(cell, (args.frames, 3, 3)).copy(), symbols, dt)
    rows = []

    t_d, res = median_time(lambda: diffusivity(positions, symbols, dt), args.repeat)
    rows.append(("D, all 4 species (FFT MSD + GLS)", t_d))
    t_rdf, _ = median_time(lambda: partial_rdfs(traj), args.repeat)
    rows.append(("RDF, 10 pairs, 1000 of the frames (default)", t_rdf))
    t_rdf_all, _ = median_time(lambda: partial_rdfs(traj, max_frames=args.frames), 1)
    rows.append((f"RDF, 10 pairs, all {args.frames} frames", t_rdf_all))
    last = Atoms(symbols, positions=positions[-1], cell=cell, pbc=True)
    last.wrap()
    t_cold, _ = median_time(lambda: features(last, temperature=1000.0), 1)  # first call fills caches
    t_f, _ = median_time(lambda: features(last, temperature=1000.0), args.repeat)
    rows.append(("features, last frame, first call (in TOTAL)", t_cold))
    rows.append(("features, last frame, repeated", t_f))
    rows.append(("TOTAL  D + RDF (default) + features", t_d + t_rdf + t_cold))

    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    structure = Structure(Lattice(cell), symbols, positions[0], coords_are_cartesian=True)
    disp = np.transpose(positions - positions[0], (1, 0, 2))
    t_pmg, pmg = median_time(lambda: DiffusionAnalyzer(structure, disp, "Li", 1000, 2, 1), args.repeat)
    rows.append(("baseline: pymatgen DiffusionAnalyzer, Li only", t_pmg))

    if args.traj:
        import tempfile
        from pathlib import Path

        import ase.io

        from amorphdb.analysis.trajectory import read_trajectory

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "run.traj"
            frames = []
            for k, p in enumerate(positions):
                atoms = Atoms(symbols, positions=p, cell=cell, pbc=True)
                atoms.info["time_ps"] = k * dt
                frames.append(atoms)
            ase.io.write(path, frames)
            t_read, _ = median_time(lambda: read_trajectory(path), 1)
            rows.append(("read the .traj (ase.io.read, not in TOTAL)", t_read))

    width = max(len(name) for name, _ in rows)
    print(f"{args.frames} frames x {len(symbols)} atoms, median of {args.repeat}")
    for name, seconds in rows:
        print(f"{name:{width}s} {seconds:7.2f} s")
    li = res["Li"]
    print(f"Li: D = {li.D:.3e} ± {li.D_err:.1e} cm²/s (set 1.0e-04); pymatgen {pmg.diffusivity:.3e} "
          f"± {pmg.diffusivity_std_dev:.1e} cm²/s")
    print(f"D / baseline time ratio: {t_d / t_pmg:.2f}")


if __name__ == "__main__":
    main()
