"""Validation of the amorphous limit (docs/amorphous_limit.md): SiO2 and Li2S polymorphs against the limit.

Crystals are built with ASE from published lattice parameters and Wyckoff positions (no downloads); variants
of deliberately high energy are made from them. The amorphous limits must be stored already
(``amorphdb run`` then ``amorphdb amorphous-limit``, see the doc for the settings); this script writes the
crystal files, runs :func:`amorphdb.workflows.amorphous_limit.synthesizability` on them and prints a Markdown
table (energies eV/atom, margins meV/atom). Usage::

    python benchmarks/amorphous_limit_validation.py --db VAL.sqlite --out DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write
from ase.spacegroup import crystal


def _cell(a: float, b: float, c: float, gamma: float = 90.0) -> list[float]:
    return [a, b, c, 90.0, 90.0, gamma]


def silica() -> dict[str, Atoms]:
    """SiO2 polymorphs (observed) from their space groups, lattice parameters (Å) and Wyckoff positions."""
    return {
        # Levien, Prewitt & Weidner, Am. Mineral. 65, 920 (1980); z + 2/3 puts Si on ASE's 3a (x, 0, 2/3)
        "alpha-quartz": crystal(["Si", "O"], [(0.4697, 0.0, 2 / 3), (0.4135, 0.2669, 0.1191 + 2 / 3)], spacegroup=154,
                                cellpar=_cell(4.9160, 4.9160, 5.4054, 120.0)),
        # Downs & Palmer, Am. Mineral. 79, 9 (1994)
        "alpha-cristobalite": crystal(["Si", "O"], [(0.3003, 0.3003, 0.0), (0.2392, 0.1044, 0.1787)], spacegroup=92,
                                      cellpar=_cell(4.9717, 4.9717, 6.9223)),
        # Ross et al., Am. Mineral. 75, 739 (1990)
        "stishovite": crystal(["Si", "O"], [(0.0, 0.0, 0.0), (0.3062, 0.3062, 0.0)], spacegroup=136,
                              cellpar=_cell(4.1772, 4.1772, 2.6651)),
        # the idealised high-temperature forms (straight Si-O-Si): Wyckoff's beta-cristobalite and high tridymite
        "beta-cristobalite (ideal Fd-3m)": crystal(["Si", "O"], [(0.0, 0.0, 0.0), (0.125, 0.125, 0.125)],
                                                   spacegroup=227, cellpar=_cell(7.16, 7.16, 7.16)),
        "high tridymite (ideal P6_3/mmc)": crystal(["Si", "O", "O"], [(1 / 3, 2 / 3, 0.4375), (1 / 3, 2 / 3, 0.25),
                                                                      (0.5, 0.0, 0.0)], spacegroup=194,
                                                   cellpar=_cell(5.03, 5.03, 8.22, 120.0)),
    }


def lithium_sulfide() -> dict[str, Atoms]:
    """Li2S in the antifluorite structure (Fm-3m, a = 5.708 Å; the observed ambient phase)."""
    return {"antifluorite": crystal(["S", "Li"], [(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225,
                                    cellpar=_cell(5.708, 5.708, 5.708))}


def high_energy(name: str, atoms: Atoms, seed: int = 7) -> dict[str, Atoms]:
    """Deliberately high-energy variants of a ground state: an anti-site pair (a cation and an anion swapped),
    and the crystal strained by +8 % per axis with every atom displaced at random (σ = 0.2 Å), which a full
    relaxation should bring back to the crystal."""
    swapped = atoms.copy()
    symbols = swapped.get_chemical_symbols()
    i = next(k for k, s in enumerate(symbols) if s == symbols[0])
    j = next(k for k, s in enumerate(symbols) if s != symbols[0])
    numbers = swapped.numbers.copy()
    numbers[[i, j]] = numbers[[j, i]]
    swapped.numbers = numbers
    shaken = atoms.copy()
    shaken.set_cell(shaken.cell * 1.08, scale_atoms=True)
    shaken.rattle(0.2, seed=seed)
    return {f"{name}, anti-site pair": swapped, f"{name}, strained 8 % and displaced 0.2 Å": shaken}


def fluorite_silica() -> Atoms:
    """SiO2 in the fluorite structure (8-fold Si; hypothetical at ambient pressure, a = 4.6 Å start)."""
    return crystal(["Si", "O"], [(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225, cellpar=_cell(4.6, 4.6, 4.6))


def alb2_lithium_sulfide() -> Atoms:
    """Li2S in the AlB2 structure (P6/mmm, S on 1a, Li on 2d; every position fixed by symmetry; hypothetical)."""
    return crystal(["S", "Li"], [(0, 0, 0), (1 / 3, 2 / 3, 0.5)], spacegroup=191, cellpar=_cell(4.0, 4.0, 3.4, 120.0))


def s8_ring() -> Atoms:
    """The S8 crown ring (S-S 2.05 Å, S-S-S 108°), the molecule of alpha-sulfur, as a non-periodic structure."""
    r, h = 2.3456, 0.9897  # Å: ring radius and the distance between its two planes
    return Atoms("S8", positions=[(r * np.cos(k * np.pi / 4), r * np.sin(k * np.pi / 4), h / 2 * (-1) ** k)
                                  for k in range(8)])


def crystals() -> dict[str, tuple[str, Atoms, str]]:
    """name -> (formula, structure, expected verdict)."""
    out: dict[str, tuple[str, Atoms, str]] = {}
    for name, atoms in silica().items():  # stishovite is made only at high pressure: above at 0 GPa
        out[f"SiO2 {name}"] = ("SiO2", atoms, "above (0 GPa)" if name == "stishovite" else "below")
    out["SiO2 fluorite-type (hypothetical)"] = ("SiO2", fluorite_silica(), "above")
    for name, atoms in high_energy("SiO2 alpha-quartz", silica()["alpha-quartz"]).items():
        out[name] = ("SiO2", atoms, "above" if "anti-site" in name else "below")
    for name, atoms in lithium_sulfide().items():
        out[f"Li2S {name}"] = ("Li2S", atoms, "below")
    out["Li2S AlB2-type (hypothetical)"] = ("Li2S", alb2_lithium_sulfide(), "above")
    for name, atoms in high_energy("Li2S antifluorite", lithium_sulfide()["antifluorite"]).items():
        out[name] = ("Li2S", atoms, "above" if "anti-site" in name else "below")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database with the stored amorphous limits")
    parser.add_argument("--out", required=True, help="directory for the crystal files")
    parser.add_argument("--only", help="only the crystals of this formula")
    parser.add_argument("--fmax", type=float, default=0.05)
    args = parser.parse_args()
    from amorphdb.database.api import Database
    from amorphdb.engines import load_engine
    from amorphdb.workflows.amorphous_limit import synthesizability

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = load_engine("chgnet", device="cpu")
    db = Database(args.db)
    print("| crystal | atoms | expected | verdict | E_f (eV/atom) | margin to each limit (meV/atom) | steps | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k, (name, (formula, atoms, expected)) in enumerate(crystals().items()):
        if args.only and formula != args.only:
            continue
        path = out / f"{k:02d}-{formula}.cif"
        write(path, atoms)
        start = time.perf_counter()
        [v] = synthesizability([path], engine=engine, db=db, fmax=args.fmax, max_steps=1000)
        margins = ", ".join(f"{1000 * (v.formation_energy - lim.limit):+.0f} ± {1000 * (lim.limit_err or 0):.0f} "
                            f"({lim.temperature:g} K)"
                            for lim in db.amorphous_limits(formula) if lim.status == "done")
        print(f"| {name} | {v.n_atoms} | {expected} | **{v.verdict}** | {v.formation_energy:.4f} | {margins} | "
              f"{v.n_steps} | {time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
