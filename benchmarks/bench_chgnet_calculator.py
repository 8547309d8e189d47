"""Time per energy + forces + stress call: amorphdb's CHGNet calculator (one backward pass) against CHGNet's own
(two, each keeping the graph for training), on the same cells and the same model object.

The cells are PACKMOL packings of ~100 atoms at the densities given (g/cm³): a denser cell has more neighbours
within CHGNet's cutoffs, and the cost per step of a quench grows with its density (docs/protocol.md). Each
repeat moves every atom a little (so that no result is reused) and times both calculators on it, alternating,
so that a changing machine load hits both alike. Prints per density the medians, their ratio and the largest
differences of forces and stress. Run by hand:

    OMP_NUM_THREADS=1 python benchmarks/bench_chgnet_calculator.py [--formula Li3P] [--atoms 100]
        [--densities 0.9 1.2 1.4] [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from chgnet.model.dynamics import CHGNetCalculator
from pymatgen.io.ase import AseAtomsAdaptor

from amorphdb.composition import scale_composition
from amorphdb.engines import load_engine
from amorphdb.structure import random_packing


def seconds_per_call(atoms, calculator) -> tuple[float, np.ndarray, np.ndarray]:
    """Seconds of one energy + forces + stress evaluation of ``atoms``, and the forces (eV/Å) and stress."""
    atoms = atoms.copy()
    atoms.calc = calculator
    start = time.perf_counter()
    atoms.get_potential_energy()
    forces, stress = atoms.get_forces(), atoms.get_stress()
    return time.perf_counter() - start, forces, stress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formula", default="Li3P")
    parser.add_argument("--atoms", type=int, default=100)
    parser.add_argument("--densities", type=float, nargs="+", default=[0.9, 1.2, 1.4])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    ours = load_engine("chgnet", device="cpu").calculator
    theirs = CHGNetCalculator(model=ours.model, use_device="cpu", on_isolated_atoms="ignore")
    comp = scale_composition(args.formula, args.atoms)
    rng = np.random.default_rng(0)
    print("| density (g/cm³) | CHGNet's calculator (s) | amorphdb's (s) | ratio | max ΔF (eV/Å) "
          "| max Δσ (eV/Å³) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for density in args.densities:
        atoms = AseAtomsAdaptor.get_atoms(random_packing(comp, density, seed=1))
        seconds_per_call(atoms, theirs), seconds_per_call(atoms, ours)  # warm-up
        t_theirs, t_ours, df, ds = [], [], 0.0, 0.0
        for _ in range(args.repeats):
            atoms.positions += rng.normal(0.0, 0.02, atoms.positions.shape)
            a, f_a, s_a = seconds_per_call(atoms, theirs)
            b, f_b, s_b = seconds_per_call(atoms, ours)
            t_theirs.append(a)
            t_ours.append(b)
            df, ds = max(df, float(np.abs(f_a - f_b).max())), max(ds, float(np.abs(s_a - s_b).max()))
        m_theirs, m_ours = statistics.median(t_theirs), statistics.median(t_ours)
        print(f"| {density:g} | {m_theirs:.3f} | {m_ours:.3f} | {m_theirs / m_ours:.2f} | {df:.1e} | {ds:.1e} |",
              flush=True)


if __name__ == "__main__":
    main()
