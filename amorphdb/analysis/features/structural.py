"""The 21 structural columns of the paper's table (Zheng et al. 2024, Table 1) plus ``density``, from one
periodic cell.

Following Sendek et al., Energy Environ. Sci. 10, 306 (2017), with the definitions recovered from the published
table (``docs/features.md`` documents every column: formula, cutoff, data source, unit). Neighbours are all
atoms closer than :data:`NEIGHBOUR_CUTOFF` = 4.0 Å, periodic images included.

Modes: ``mode="paper"`` reproduces the reference computation's conventions (used to compare with the published
table): the "anion" is the element whose symbol sorts last alphabetically; LBI and SDLI divide by (number of Li
pairs − 1). ``mode="physical"`` takes the most electronegative element as the anion and plain means /
population standard deviations. Everything else is the same in both modes.

Structures without Li: the Li-centred columns (LNC, SDLC, LLB, RNC, LBI, SDLI, RBI, SLPW, SLPW_pp, SLPE,
LLSD, LASD) are NaN, with a warning. RNC (RBI) is NaN, with a warning, when SNC (SBI) is 0: no non-Li atom has a
neighbour (or one of another electronegativity) within 4 Å. SLPE is NaN when a Li has no atom beside its path.
Non-finite positions or cells raise InputError.

Written here rather than taken from a library because no maintained package computes these definitions
(matminer's site/structure featurizers are different descriptors); the neighbour search is pymatgen's
C routine ``find_points_in_spheres`` and everything else is vectorised numpy, so one 100-atom cell takes
milliseconds.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from pymatgen.core import Element, Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from .elements import basic_properties
from ..trajectory import check_finite
from ...errors import InputError
from ...units import AMU_PER_A3_IN_G_PER_CM3

STRUCTURAL_COLUMNS: list[str] = [
    "AAV", "LBI", "SDLI", "SBI", "ENS", "RBI", "AFC", "AASD", "VPA", "LASD", "LLSD", "LNC", "SDLC", "LLB",
    "SNC", "RNC", "PF", "SPF", "SLPW", "SLPW_pp", "SLPE",
]
NEIGHBOUR_CUTOFF = 4.0  # Å, neighbours of an atom: distance < 4.0 Å, periodic images included
IONICITY_THRESHOLD = 2.0  # mean |X_i - X_j| over an atom's neighbours above which r_eff is its ionic radius
AFC_SHELL = 1.0  # Å, width of the anion shell counted by AFC
MODES = ("paper", "physical")


_LI_COLUMNS = ("LNC", "SDLC", "LLB", "RNC", "LBI", "SDLI", "RBI", "SLPW", "SLPW_pp", "SLPE", "LLSD", "LASD")


@lru_cache(maxsize=None)
def _ionic_radius(symbol: str) -> float:
    """Shannon (crystal) radius of the element's first common oxidation state (pymatgen), Å; NaN if none."""
    el = Element(symbol)
    radii = el.ionic_radii
    for oxi in el.common_oxidation_states:
        if oxi in radii:
            return float(radii[oxi])
    return float(el.average_ionic_radius) or math.nan


def as_atoms(structure: Structure | Atoms) -> Atoms:
    if isinstance(structure, Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_atoms(structure)
    if isinstance(structure, Atoms):
        return structure
    raise InputError(f"expected a pymatgen Structure or an ASE Atoms, got {type(structure).__name__}")


def read_structure(path: str | os.PathLike) -> Atoms:
    """One structure from a file ASE or pymatgen reads (CIF, POSCAR, extxyz, ...; the last frame of a trajectory)."""
    return _read(path, -1)


def read_frames(path: str | os.PathLike) -> list[Atoms]:
    """Every frame of a file ASE reads (a trajectory), or the one structure of a file pymatgen reads."""
    frames = _read(path, ":")
    return frames if isinstance(frames, list) else [frames]


def _read(path: str | os.PathLike, index: int | str) -> Atoms | list[Atoms]:
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise InputError(f"structure file {path} does not exist")
    try:
        return ase.io.read(path, index=index)
    except Exception as ase_exc:  # ASE raises many types for unknown or malformed files
        try:
            return as_atoms(Structure.from_file(path))
        except Exception:
            raise InputError(f"cannot read a structure from {path}: {ase_exc}") from None


def _group_min(group: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group id in [0, n): the minimum of ``values`` and the index (into ``values``) that attains it (-1)."""
    best = np.full(n, np.inf)
    where = np.full(n, -1)
    if len(values):
        order = np.lexsort((values, group))
        first = np.ones(len(order), dtype=bool)
        first[1:] = group[order][1:] != group[order][:-1]
        idx = order[first]
        best[group[idx]] = values[idx]
        where[group[idx]] = idx
    return best, where


def _anion(symbols: set[str], mode: str) -> str:
    if mode == "paper":
        return max(symbols)
    return max(symbols, key=lambda s: (basic_properties(s)[0], s))


@dataclass(frozen=True)
class _Cell:
    """One periodic cell prepared for the structural features (arrays per atom, then per neighbour pair)."""

    n: int
    is_li: np.ndarray  # bool per atom
    is_anion: np.ndarray  # bool per atom
    x: np.ndarray  # Pauling electronegativity per atom
    r_eff: np.ndarray  # effective radius per atom, Å
    count: np.ndarray  # neighbours within NEIGHBOUR_CUTOFF per atom
    i: np.ndarray  # pairs out to the search cutoff: centre index
    j: np.ndarray  # neighbour index
    d: np.ndarray  # distance, Å
    vec: np.ndarray  # vector i → j, Å
    close: np.ndarray  # bool per pair: d < NEIGHBOUR_CUTOFF


def structural_features(structure: Structure | Atoms, mode: str = "paper") -> dict[str, float]:
    """The 21 structural columns of the paper's table plus ``density`` (g/cm³) for one periodic cell.

    Lengths in Å, volumes in Å³, counts per atom; definitions in ``docs/features.md``.
    """
    if mode not in MODES:
        raise InputError(f"unknown feature mode {mode!r} (use 'paper' or 'physical')")
    atoms = as_atoms(structure)
    n = len(atoms)
    if n == 0:
        raise InputError("structure has no atoms")
    check_finite(atoms.positions[None], atoms.get_chemical_symbols(), atoms.cell.array[None])
    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise InputError("structural features need a periodic cell with a volume (pbc on all three axes)")
    volume = float(atoms.get_volume())
    symbols = np.array(atoms.get_chemical_symbols())
    kinds = sorted(set(symbols))
    basic = {s: basic_properties(s) for s in kinds}
    x = np.array([basic[s][0] for s in symbols])
    mass = np.array([basic[s][1] for s in symbols])
    is_li = symbols == "Li"
    is_anion = symbols == _anion(set(kinds), mode)

    i, j, d, vec = _neighbours(atoms, is_li, is_anion)
    close = d < NEIGHBOUR_CUTOFF
    ci, cj = i[close], j[close]
    count = np.bincount(ci, minlength=n).astype(float)
    dx = np.abs(x[ci] - x[cj])

    # effective radii: covalent, or Shannon ionic when the atom's mean bond ionicity exceeds the threshold
    ionicity = np.divide(np.bincount(ci, weights=dx, minlength=n), count, out=np.zeros(n), where=count > 0)
    r_ion = np.array([_ionic_radius(s) for s in symbols])
    r_eff = np.where((ionicity > IONICITY_THRESHOLD) & np.isfinite(r_ion), r_ion, covalent_radii[atoms.numbers])
    sphere = 4.0 / 3.0 * np.pi * r_eff**3
    cell = _Cell(n, is_li, is_anion, x, r_eff, count, i, j, d, vec, close)

    has_other = bool((~is_li).any())
    other_dx = dx[~is_li[ci]]  # ΔX of the pairs around non-Li atoms
    out: dict[str, float] = {
        "AAV": volume / n,
        "VPA": volume / int(is_anion.sum()),
        "SNC": float(count[~is_li].mean()) if has_other else math.nan,
        "ENS": float(x[~is_li].mean()) if has_other else math.nan,
        "PF": float(sphere.sum() / volume),
        "SPF": float(sphere[~is_li].sum() / volume),
        "SBI": float(other_dx.mean()) if len(other_dx) else math.nan,
    }

    # anion framework: nearest other anion (a periodic image of itself counts) and the shell d0..d0+1 Å
    aa = is_anion[i] & is_anion[j]
    d0, _ = _group_min(i[aa], d[aa], n)
    shell = aa & (d <= d0[i] + AFC_SHELL)
    out["AASD"] = float(d0[is_anion].mean())
    out["AFC"] = float(np.bincount(i[shell], minlength=n)[is_anion].mean())

    if not is_li.any():
        warnings.warn("structure has no Li: the Li-centred features are NaN", stacklevel=2)
        out.update({c: math.nan for c in _LI_COLUMNS})
    else:
        out.update(_li_features(cell, dx[is_li[ci]], mode))
        out["RNC"] = _ratio(out, "LNC", "SNC")
        out["RBI"] = _ratio(out, "LBI", "SBI")
    result = {c: float(out[c]) for c in STRUCTURAL_COLUMNS}
    result["density"] = float(mass.sum() / volume * AMU_PER_A3_IN_G_PER_CM3)
    return result


def _ratio(out: dict[str, float], numerator: str, denominator: str) -> float:
    """``out[numerator] / out[denominator]``; NaN with a warning when the denominator is 0."""
    if out[denominator] == 0:
        warnings.warn(f"{denominator} is 0, so {numerator} / {denominator} is NaN", stacklevel=3)
        return math.nan
    return out[numerator] / out[denominator]


def _li_features(c: _Cell, li_dx: np.ndarray, mode: str) -> dict[str, float]:
    """LNC, SDLC, LLB, LBI, SDLI, LLSD, LASD, SLPW, SLPW_pp, SLPE; ``li_dx`` = ΔX over the Li-centred pairs."""
    is_li, i, j, d = c.is_li, c.i, c.j, c.d
    li_li = c.close & is_li[i] & is_li[j]
    out = {
        "LNC": float(c.count[is_li].mean()),
        "SDLC": float(c.count[is_li].std()),
        "LLB": float(np.bincount(i[li_li], minlength=c.n)[is_li].mean()),
    }
    if mode == "paper":  # the reference divides by (number of Li pairs - 1)
        denom = max(len(li_dx) - 1, 1)
        out["LBI"] = float(li_dx.sum() / denom)
        out["SDLI"] = float(np.sqrt(((li_dx - out["LBI"]) ** 2).sum() / denom))
    else:
        out["LBI"] = float(li_dx.mean()) if len(li_dx) else math.nan
        out["SDLI"] = float(li_dx.std()) if len(li_dx) else math.nan

    ll = is_li[i] & is_li[j]
    nearest_li, arg_ll = _group_min(i[ll], d[ll], c.n)
    la = is_li[i] & c.is_anion[j]
    nearest_an, _ = _group_min(i[la], d[la], c.n)
    out["LLSD"] = float(nearest_li[is_li].mean())
    out["LASD"] = float(nearest_an[is_li].mean())

    # straight-line path from each Li to its nearest Li k (that image): the atoms closest to the segment
    own = np.full(c.n, -1)
    own[is_li] = np.flatnonzero(ll)[arg_ll[is_li]]  # the pair (Li, nearest Li), one per Li
    q = np.flatnonzero(is_li[i])
    q = q[q != own[i[q]]]  # every atom around Li i except the segment's end
    seg = c.vec[own[i[q]]]
    t = np.clip(np.einsum("ij,ij->i", c.vec[q], seg) / np.einsum("ij,ij->i", seg, seg), 0.0, 1.0)
    dist = np.linalg.norm(c.vec[q] - t[:, None] * seg, axis=1)
    width, arg = _group_min(i[q], dist - c.r_eff[j[q]], c.n)
    width_pp, _ = _group_min(i[q], dist, c.n)
    out["SLPW"] = float(width[is_li].mean())
    out["SLPW_pp"] = float(width_pp[is_li].mean())
    blocker_x = np.full(c.n, math.nan)  # X of the atom that minimises w_i; NaN when no atom is beside the path
    found = arg >= 0
    blocker_x[found] = c.x[j[q][arg[found]]]
    out["SLPE"] = float(blocker_x[is_li].mean())
    return out


def _pairs(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs (i, j, distance Å, vector i→j Å) closer than ``cutoff``, periodic images included.

    pymatgen's C neighbour search (``find_points_in_spheres``); ASE's ``neighbor_list`` is ~100x slower at
    the 8–10 Å needed here. The atom itself is excluded, its periodic images are not.
    """
    cell = np.ascontiguousarray(atoms.cell.array, dtype=float)
    pos = np.ascontiguousarray(atoms.get_positions(wrap=True), dtype=float)
    i, j, image, d = find_points_in_spheres(pos, pos, r=cutoff, pbc=np.ones(3, dtype=np.int64),
                                            lattice=cell, tol=1e-8)
    keep = (i != j) | np.any(image != 0, axis=1)
    i, j, image, d = i[keep].astype(int), j[keep].astype(int), image[keep], d[keep]
    vec = pos[j] + image @ cell - pos[i]
    return i, j, d, vec


def _neighbours(atoms: Atoms, is_li: np.ndarray,
                is_anion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour pairs (i, j, d, vector) out to a cutoff large enough for every nearest-species search.

    Needs, for every Li, another Li and an anion, with all atoms within 4 Å of the Li–Li segment; for every
    anion, another anion and the AFC shell d0 + 1 Å. Starts at 8 Å and grows until those are inside.
    """
    cutoff = 8.0
    longest = float(np.linalg.norm(atoms.cell.array, axis=1).sum())
    while True:
        i, j, d, vec = _pairs(atoms, cutoff)
        need = [NEIGHBOUR_CUTOFF]
        for centre, target, margin in ((is_li, is_li, NEIGHBOUR_CUTOFF), (is_li, is_anion, 0.0),
                                       (is_anion, is_anion, AFC_SHELL)):
            sel = centre[i] & target[j]
            best, _ = _group_min(i[sel], d[sel], len(atoms))
            need.append(float(best[centre].max()) + margin if centre.any() else 0.0)
        if max(need) < cutoff or cutoff > 2 * longest:
            return i, j, d, vec
        cutoff = max(need) + 0.5 if np.isfinite(max(need)) else 2 * cutoff
