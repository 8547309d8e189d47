"""Time per MD step of amorphdb's pipeline (``run_nvt``) against a bare ASE loop over the same calculator.

Both run a Nosé–Hoover chain NVT on the same ~100-atom Li3PS4 cell packed by PACKMOL: the bare loop ASE's
``NoseHooverChainNVT``, the pipeline amorphdb's own integrator (``amorphdb.md.integrator``) plus per-step
observables (the conserved energy included) and blow-up checks, a trajectory frame every step (the paper
preset), periodic checkpoints of the state and a progress bar. Repeats alternate the two so that a changing
machine load hits both alike; the medians and their ratio (the overhead) are printed, then an estimate of the
paper preset's wall time for one composition (steps × time per step). Run by hand:

    OMP_NUM_THREADS=2 python benchmarks/bench_md.py [--engine chgnet] [--formula Li3PS4] [--atoms 100] [--density G]
        [--steps 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import units
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from pymatgen.io.ase import AseAtomsAdaptor

from amorphdb.composition import scale_composition
from amorphdb.engines import load_engine
from amorphdb.md.runner import run_nvt
from amorphdb.protocol.settings import PRESETS
from amorphdb.structure import random_packing


def bare_loop(atoms, calculator, n_steps: int, temperature: float) -> float:
    """Seconds per step of a plain ASE NVT loop."""
    atoms = atoms.copy()
    atoms.calc = calculator
    thermalize_momenta(atoms, temperature, exact_temperature=True, rng=np.random.default_rng(0))
    Stationary(atoms)
    dyn = NoseHooverChainNVT(atoms, timestep=2.0 * units.fs, temperature_K=temperature, tdamp=200 * units.fs)
    start = time.perf_counter()
    dyn.run(n_steps)
    return (time.perf_counter() - start) / n_steps


def pipeline(atoms, calculator, n_steps: int, temperature: float, workdir: Path, tag: str) -> float:
    """Seconds per step of ``run_nvt`` writing every step, checkpointing every 10 steps."""
    start = time.perf_counter()
    run_nvt(atoms, calculator, temperature=temperature, n_steps=n_steps, path=workdir / f"{tag}.traj",
            frame_interval=1, checkpoint_interval=10, progress=True)
    return (time.perf_counter() - start) / n_steps


def paper_steps(check_runs: int) -> int:
    """MD steps of the paper preset for one composition with ``check_runs`` check runs per temperature."""
    s = PRESETS["paper"]
    per_t = len(s.scales) * s.volume_steps + check_runs * s.check_steps + s.production_steps
    return per_t * (1 + len(s.temperatures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="chgnet")
    parser.add_argument("--formula", default="Li3PS4")
    parser.add_argument("--atoms", type=int, default=100)
    parser.add_argument("--density", type=float, default=None, help="g/cm³ of the packed cell (default: our guess)")
    parser.add_argument("--steps", type=int, default=20, help="MD steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=1500.0)
    args = parser.parse_args()

    engine = load_engine(args.engine, device="cpu")
    comp = scale_composition(args.formula, args.atoms)
    atoms = AseAtomsAdaptor.get_atoms(random_packing(comp, args.density, seed=1))
    print(f"{args.formula}: {len(atoms)} atoms at {atoms.get_masses().sum() / atoms.get_volume() * 1.66054:.2f} g/cm3, engine {engine.name} {engine.version} on {engine.device}")
    bare_loop(atoms, engine.calculator, 3, args.temperature)  # warm-up (model load, first graph)
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            bare.append(bare_loop(atoms, engine.calculator, args.steps, args.temperature))
            ours.append(pipeline(atoms, engine.calculator, args.steps, args.temperature, Path(tmp), f"r{k}"))
            print(f"repeat {k}: bare {bare[-1] * 1e3:.1f} ms/step, pipeline {ours[-1] * 1e3:.1f} ms/step")
    b, p = statistics.median(bare), statistics.median(ours)
    print(f"median bare ASE loop: {b * 1e3:.1f} ms/step")
    print(f"median amorphdb run_nvt: {p * 1e3:.1f} ms/step")
    print(f"overhead ratio: {p / b:.3f}")
    paired = statistics.median(o / r for o, r in zip(ours, bare))
    print(f"median of the per-repeat ratios (less sensitive to a drifting load): {paired:.3f}")
    lo, hi = paper_steps(1), paper_steps(3)
    print(f"paper preset, one composition: {lo}-{hi} MD steps (1-3 check runs per temperature) "
          f"= {lo * p / 3600:.1f}-{hi * p / 3600:.1f} h at {p * 1e3:.0f} ms/step")


if __name__ == "__main__":
    main()
