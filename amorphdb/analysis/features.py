"""The 42 feature columns of the paper's table (Zheng et al. 2024, Table 1) plus density, by column name.

Two families, named exactly as the columns of the paper's ``ml_features.csv``:

* **compositional** (:data:`COMPOSITIONAL_COLUMNS`, 21): composition-weighted element averages,
  ``avg P = sum_e c_e P_e / sum_e c_e`` over all atoms ("with Li") or over the non-Li atoms ("wiout",
  "without", "exclude"), in raw units (GPa, Å, amu, eV), and their combinations.
  Pauling electronegativity X, atomic mass and (empirical) atomic radius come from pymatgen's ``Element``
  (``X``, ``atomic_mass``, ``atomic_radius``); these reproduce the published table exactly.
* **structural** (:data:`STRUCTURAL_COLUMNS`, 21, plus ``density`` in g/cm³): from one periodic cell,
  following Sendek et al., Energy Environ. Sci. 10, 306 (2017), with the definitions recovered from the
  published table (``docs/features.md`` documents every column: formula, cutoff, data source, unit).
  Neighbours are all atoms closer than :data:`NEIGHBOUR_CUTOFF` = 4.0 Å, periodic images included.

Element data for bulk modulus B (GPa), shear modulus G (GPa) and cohesive energy E_coh (eV/atom)
----------------------------------------------------------------------------------------------
The paper's values match no public table, and the per-element values recovered from the published table
are project data that this package does not ship. Each element's (B, G, E_coh) therefore comes from, in order:

1. **the paper's element table**, a CSV with columns ``element, bulk_modulus_GPa, shear_modulus_GPa,
   cohesive_energy_eV``, read at run time from ``$AMORPHDB_ELEMENT_DATA`` if set, else from
   ``../shared/data/paper/element_properties.csv`` relative to the working directory or to the source
   checkout; with it the compositional features reproduce the published table (relative deviation < 2e-11);
2. **the public fallback** for elements not in that table (or when there is no table): B and G from
   pymatgen's ``Element.bulk_modulus`` / ``rigidity_modulus`` (WebElements data), a missing one completed
   from the isotropic-elasticity relations with the element's Young's modulus or Poisson's ratio where
   pymatgen has them; E_coh from Kittel, *Introduction to Solid State Physics* (8th ed.), as shipped in
   ``ase.data.cohesive_energies``. Values still missing (e.g. B and G of O, N, F) give NaN in the columns
   that need them, with a warning naming the elements.

Every call logs (INFO) which source served which element; :func:`element_data_sources` returns it, and the
CLI prints it. Elements without a Pauling electronegativity, mass or radius raise :class:`InputError`.

Modes
-----
``mode="paper"`` reproduces the reference computation's conventions (used to compare with the published
table): the "anion" is the element whose symbol sorts last alphabetically; LBI and SDLI divide by
(number of Li pairs − 1). ``mode="physical"`` takes the most electronegative element as the anion and
plain means / population standard deviations. Everything else is the same in both modes.

Structures without Li: the Li-centred columns (LNC, SDLC, LLB, RNC, LBI, SDLI, RBI, SLPW, SLPW_pp, SLPE,
LLSD, LASD) are NaN, with a warning.

Written here rather than taken from a library because no maintained package computes these definitions
(matminer's site/structure featurizers are different descriptors); the neighbour search is pymatgen's
C routine ``find_points_in_spheres`` and everything else is vectorised numpy, so one 100-atom cell takes
milliseconds.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.data.cohesive_energies import cohesive_energy_kittel2005
from pymatgen.core import Composition, Element, Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from ..composition import parse_formula
from .diffusion import evenly_spaced
from ..errors import InputError
from ..units import AMU_PER_A3_IN_G_PER_CM3

logger = logging.getLogger(__name__)

STRUCTURAL_COLUMNS: list[str] = [
    "AAV", "LBI", "SDLI", "SBI", "ENS", "RBI", "AFC", "AASD", "VPA", "LASD", "LLSD", "LNC", "SDLC", "LLB",
    "SNC", "RNC", "PF", "SPF", "SLPW", "SLPW_pp", "SLPE",
]
COMPOSITIONAL_COLUMNS: list[str] = [
    "Li_percentage", "avg_B_with_Li", "avg_B_wiout_Li", "avg_G_with_Li", "avg_G_wiout_Li",
    "avg_Ecoh_with_Li", "avg_Echo_wiout_Li", "BR5_M_with_Li", "BR5_M_without_Li", "GR5_M_with_Li",
    "GR5_M_without_Li", "ER2_m_with_Li", "ER2_m_without_Li", "atomic_radius_avg",
    "atomic_radius_avg_exclude_Li", "ratio_r_without_Li_with", "avg_m_with_Li", "avg_m_wiout_Li",
    "avg_X_with_Li", "avg_X_wiout_Li", "avg_diff_of_X_Li_rest",
]
#: The 42 feature columns of ``ml_features.csv``, in file order (after formula, D and temperature).
FEATURE_COLUMNS: list[str] = STRUCTURAL_COLUMNS + COMPOSITIONAL_COLUMNS

NEIGHBOUR_CUTOFF = 4.0  # Å, neighbours of an atom: distance < 4.0 Å, periodic images included
IONICITY_THRESHOLD = 2.0  # mean |X_i - X_j| over an atom's neighbours above which r_eff is its ionic radius
AFC_SHELL = 1.0  # Å, width of the anion shell counted by AFC
MODES = ("paper", "physical")
ELEMENT_DATA_ENV = "AMORPHDB_ELEMENT_DATA"
PUBLIC_SOURCE = "public (pymatgen/WebElements B, G; Kittel E_coh via ASE)"
_SHARED_TABLE = Path("..") / "shared" / "data" / "paper" / "element_properties.csv"


# --------------------------------------------------------------------------------------------------
# element data
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ElementTable:
    """Per-element bulk modulus B (GPa), shear modulus G (GPa), cohesive energy E_coh (eV/atom)."""

    source: str
    values: Mapping[str, tuple[float, float, float]]


#: No table: every element from the public fallback.
PUBLIC_ELEMENT_DATA = ElementTable(source=PUBLIC_SOURCE, values={})


def load_element_table(path: str | os.PathLike) -> ElementTable:
    """Read a CSV with columns ``element, bulk_modulus_GPa, shear_modulus_GPa, cohesive_energy_eV``."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read element data {path}: {exc}") from None
    needed = ["element", "bulk_modulus_GPa", "shear_modulus_GPa", "cohesive_energy_eV"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"element data {path} lacks the columns {', '.join(missing)}")
    values = {str(r.element): (float(r.bulk_modulus_GPa), float(r.shear_modulus_GPa), float(r.cohesive_energy_eV))
              for r in frame.itertuples()}
    return ElementTable(source=f"paper table ({path.resolve()})", values=values)


def default_element_table() -> ElementTable | None:
    """The paper's element table if one can be found (see the module docstring), else None."""
    env = os.environ.get(ELEMENT_DATA_ENV)
    if env:
        if not Path(env).is_file():
            raise InputError(f"${ELEMENT_DATA_ENV} points to {env}, which is not a file")
        return _cached_table(str(Path(env).resolve()))
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = base / _SHARED_TABLE
        if candidate.is_file():
            return _cached_table(str(candidate.resolve()))
    return None


@lru_cache(maxsize=8)
def _cached_table(path: str) -> ElementTable:
    return load_element_table(path)


def _quantity(value) -> float:
    return math.nan if value is None else float(value)


@lru_cache(maxsize=None)
def public_element_properties(symbol: str) -> tuple[float, float, float]:
    """(B GPa, G GPa, E_coh eV/atom) of an element from public data; NaN where no value is known.

    B and G are pymatgen's ``bulk_modulus`` and ``rigidity_modulus``; a missing one is completed by the
    isotropic relations from Young's modulus E or Poisson's ratio ν when pymatgen has them. E_coh is
    Kittel's (``ase.data.cohesive_energies.cohesive_energy_kittel2005``).
    """
    el = Element(symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bulk, shear, young = (_quantity(el.bulk_modulus), _quantity(el.rigidity_modulus), _quantity(el.youngs_modulus))
        nu = _quantity(el.data.get("Poissons ratio"))
    if math.isnan(shear):
        if not math.isnan(bulk) and not math.isnan(young) and 9 * bulk > young:
            shear = 3 * bulk * young / (9 * bulk - young)
        elif not math.isnan(nu) and not math.isnan(bulk):
            shear = 3 * bulk * (1 - 2 * nu) / (2 * (1 + nu))
        elif not math.isnan(nu) and not math.isnan(young):
            shear = young / (2 * (1 + nu))
    if math.isnan(bulk):
        if not math.isnan(nu) and not math.isnan(shear):
            bulk = 2 * shear * (1 + nu) / (3 * (1 - 2 * nu))
        elif not math.isnan(young) and not math.isnan(shear) and 3 * shear > young:
            bulk = young * shear / (3 * (3 * shear - young))
    kittel = cohesive_energy_kittel2005[el.Z] if el.Z < len(cohesive_energy_kittel2005) else None
    return bulk, shear, _quantity(kittel)


def _moduli(symbols: Sequence[str], table: ElementTable | None) -> tuple[np.ndarray, dict[str, str]]:
    """(n, 3) array of (B, G, E_coh) per symbol and the source of each."""
    rows, sources = [], {}
    for s in symbols:
        if table is not None and s in table.values:
            rows.append(table.values[s])
            sources[s] = table.source
        else:
            rows.append(public_element_properties(s))
            sources[s] = PUBLIC_SOURCE
    return np.array(rows, dtype=float).reshape(len(symbols), 3), sources


def element_data_sources(formula: str, element_data: ElementTable | None = None) -> dict[str, str]:
    """Which source serves (B, G, E_coh) for each element of ``formula`` (default table as in the docstring)."""
    table = element_data if element_data is not None else default_element_table()
    return _moduli(sorted(str(e) for e in parse_formula(formula)), table)[1]


@lru_cache(maxsize=None)
def _basic(symbol: str) -> tuple[float, float, float]:
    """(Pauling X, atomic mass amu, empirical atomic radius Å) from pymatgen; InputError when one is missing."""
    el = Element(symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, mass, radius = _quantity(el.X), _quantity(el.atomic_mass), _quantity(el.atomic_radius)
    for name, value in (("Pauling electronegativity", x), ("atomic mass", mass), ("atomic radius", radius)):
        if math.isnan(value):
            raise InputError(f"element {symbol} has no {name} in pymatgen: its features cannot be computed")
    return x, mass, radius


# --------------------------------------------------------------------------------------------------
# compositional features
# --------------------------------------------------------------------------------------------------

def compositional_features(formula: str | Composition, element_data: ElementTable | None = None) -> dict[str, float]:
    """The 21 compositional columns of the paper's table for ``formula`` (e.g. ``"Li3PS4"``).

    Units are the raw units of the element data (GPa, eV, Å, amu); ``Li_percentage`` is a fraction.
    ``element_data`` defaults to :func:`default_element_table`; elements it lacks use the public fallback.
    """
    comp = formula if isinstance(formula, Composition) else parse_formula(formula)
    symbols = sorted(str(e) for e in comp)
    counts = np.array([comp[s] for s in symbols], dtype=float)
    table = element_data if element_data is not None else default_element_table()
    props, sources = _moduli(symbols, table)
    basic = np.array([_basic(s) for s in symbols])
    x, mass, radius = basic.T
    bulk, shear, ecoh = props.T
    _report_sources(comp.reduced_formula, sources, props, symbols)

    non_li = np.array([s != "Li" for s in symbols])

    def avg(values: np.ndarray, without_li: bool = False) -> float:
        w = counts * non_li if without_li else counts
        if w.sum() == 0:
            return math.nan
        return float(np.dot(w, values) / w.sum())

    out: dict[str, float] = {"Li_percentage": float(comp["Li"] / comp.num_atoms)}
    for tag, wo in (("with_Li", False), ("wiout_Li", True)):
        out[f"avg_B_{tag}"] = avg(bulk, wo)
        out[f"avg_G_{tag}"] = avg(shear, wo)
    out["avg_Ecoh_with_Li"] = avg(ecoh)
    out["avg_Echo_wiout_Li"] = avg(ecoh, True)
    for tag, wo in (("with_Li", False), ("without_Li", True)):
        m, r = avg(mass, wo), avg(radius, wo)  # the averages of the same atoms, then combined
        out[f"BR5_M_{tag}"] = math.sqrt(avg(bulk, wo) * r**5 / m)
        out[f"GR5_M_{tag}"] = math.sqrt(avg(shear, wo) * r**5 / m)
        out[f"ER2_m_{tag}"] = math.sqrt(avg(ecoh, wo) * r**2 / m)
    out["atomic_radius_avg"] = avg(radius)
    out["atomic_radius_avg_exclude_Li"] = avg(radius, True)
    out["ratio_r_without_Li_with"] = out["atomic_radius_avg_exclude_Li"] / out["atomic_radius_avg"]
    out["avg_m_with_Li"] = avg(mass)
    out["avg_m_wiout_Li"] = avg(mass, True)
    out["avg_X_with_Li"] = avg(x)
    out["avg_X_wiout_Li"] = avg(x, True)
    out["avg_diff_of_X_Li_rest"] = out["avg_X_wiout_Li"] - out["avg_X_with_Li"]
    return {c: out[c] for c in COMPOSITIONAL_COLUMNS}


def _report_sources(formula: str, sources: dict[str, str], props: np.ndarray, symbols: list[str]) -> None:
    by_source: dict[str, list[str]] = {}
    for s, src in sources.items():
        by_source.setdefault(src, []).append(s)
    logger.info("element data for %s: %s", formula,
                "; ".join(f"{src} for {', '.join(els)}" for src, els in by_source.items()))
    gaps = [f"{name} of {s}" for s, row in zip(symbols, props) for name, v in zip(("B", "G", "E_coh"), row)
            if math.isnan(v)]
    if gaps:
        warnings.warn(f"no element data for {', '.join(gaps)} ({PUBLIC_SOURCE}); the columns that need them "
                      f"are NaN: set ${ELEMENT_DATA_ENV} to a table that has them", stacklevel=3)


# --------------------------------------------------------------------------------------------------
# structural features
# --------------------------------------------------------------------------------------------------

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


def _as_atoms(structure: Structure | Atoms) -> Atoms:
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
            return _as_atoms(Structure.from_file(path))
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
    return max(symbols, key=lambda s: (_basic(s)[0], s))


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
    atoms = _as_atoms(structure)
    n = len(atoms)
    if n == 0:
        raise InputError("structure has no atoms")
    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise InputError("structural features need a periodic cell with a volume (pbc on all three axes)")
    volume = float(atoms.get_volume())
    symbols = np.array(atoms.get_chemical_symbols())
    kinds = sorted(set(symbols))
    basic = {s: _basic(s) for s in kinds}
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
    out: dict[str, float] = {
        "AAV": volume / n,
        "VPA": volume / int(is_anion.sum()),
        "SNC": float(count[~is_li].mean()) if has_other else math.nan,
        "ENS": float(x[~is_li].mean()) if has_other else math.nan,
        "PF": float(sphere.sum() / volume),
        "SPF": float(sphere[~is_li].sum() / volume),
        "SBI": float(dx[~is_li[ci]].mean()) if has_other else math.nan,
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
        out["RNC"] = out["LNC"] / out["SNC"]
        out["RBI"] = out["LBI"] / out["SBI"]
    result = {c: float(out[c]) for c in STRUCTURAL_COLUMNS}
    result["density"] = float(mass.sum() / volume * AMU_PER_A3_IN_G_PER_CM3)
    return result


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
    out["SLPE"] = float(c.x[j[q][arg[is_li]]].mean())
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


# --------------------------------------------------------------------------------------------------
# all features
# --------------------------------------------------------------------------------------------------

def features(structure: Structure | Atoms, temperature: float | None = None, mode: str = "paper",
             element_data: ElementTable | None = None) -> dict[str, float]:
    """All 42 feature columns (file order) plus ``density`` (g/cm³), plus ``temperature`` (K) when given."""
    atoms = _as_atoms(structure)
    return _assemble(structural_features(atoms, mode=mode), atoms, element_data, temperature)


def _assemble(structural: Mapping[str, float], atoms: Atoms, element_data: ElementTable | None,
              temperature: float | None) -> dict[str, float]:
    """``structural`` with the compositional columns of ``atoms`` in file order, ``density``, ``temperature``."""
    compositional = compositional_features(Composition(atoms.get_chemical_formula()), element_data)
    merged = {**structural, **compositional}
    out = {c: float(merged[c]) for c in FEATURE_COLUMNS}
    out["density"] = float(structural["density"])
    if temperature is not None:
        out["temperature"] = float(temperature)
    return out


def trajectory_features(frames: Sequence[Structure | Atoms], n_samples: int = 10, mode: str = "paper",
                        temperature: float | None = None,
                        element_data: ElementTable | None = None) -> dict[str, float]:
    """:func:`features` averaged over ``n_samples`` evenly spaced frames (first and last included).

    The compositional columns come from the first frame (the composition does not change).
    """
    total = len(frames)
    if total == 0:
        raise InputError("trajectory has no frames")
    if n_samples < 1:
        raise InputError(f"n_samples must be at least 1, got {n_samples}")
    picks = evenly_spaced(0, total - 1, n_samples)
    rows = [structural_features(frames[int(k)], mode=mode) for k in picks]
    logger.info("structural features averaged over %d of %d frames", len(picks), total)
    mean = {c: float(np.mean([r[c] for r in rows])) for c in rows[0]}
    return _assemble(mean, _as_atoms(frames[int(picks[0])]), element_data, temperature)
