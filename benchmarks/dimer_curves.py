"""Energy and force of an isolated dimer against its bond length, per engine: whether a potential repels atoms
pushed closer than any training structure had them (the short range that hot, compressed melts reach).

    OMP_NUM_THREADS=1 python benchmarks/dimer_curves.py [--pair Li Li] [--engines sevennet chgnet]

Prints one line per engine: E(r) − E(3 Å) in eV and the force on the second atom along the bond in eV/Å
(positive: repulsive) at r = 0.5 … 3 Å, the dimer alone in a 15 Å periodic box.
"""

from __future__ import annotations

import argparse

from ase import Atoms

from amorphdb.engines import load_engine

DISTANCES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0)  # Å


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pair", nargs=2, default=["Li", "Li"], metavar=("A", "B"))
    p.add_argument("--engines", nargs="+", default=["sevennet", "chgnet"])
    args = p.parse_args()
    print("| engine | " + " | ".join(f"{r:g} Å" for r in DISTANCES) + " |")
    print("| --- " * (len(DISTANCES) + 1) + "|")
    for name in args.engines:
        calc = load_engine(name).calculator
        values = []
        for r in DISTANCES:
            dimer = Atoms(args.pair, positions=[[0, 0, 0], [r, 0, 0]], cell=[15.0] * 3, pbc=True)
            dimer.calc = calc
            values.append((dimer.get_potential_energy(), dimer.get_forces()[1, 0]))
        far = values[-1][0]
        print(f"| {name} {'-'.join(args.pair)} | "
              + " | ".join(f"{e - far:+.1f} eV, {f:+.0f} eV/Å" for e, f in values) + " |")


if __name__ == "__main__":
    main()
