"""Per-element data behind the features: B, G, E_coh from the paper's table (shipped) or public data, and
Pauling electronegativity, mass and radius from pymatgen.

Bulk modulus B (GPa), shear modulus G (GPa) and cohesive energy E_coh (eV/atom) of each element come from, in
order:

1. **an element table**, a CSV with columns ``element, bulk_modulus_GPa, shear_modulus_GPa,
   cohesive_energy_eV``: ``$AMORPHDB_ELEMENT_DATA`` when set, else the paper's table shipped in the package
   (``amorphdb/data/element_properties.csv``, 60 elements, recovered from the published feature table of
   Zheng et al. 2024; source and licence in ``amorphdb/data/README.md``). It is found from the package, never
   from the working directory. With it the compositional features reproduce the published table;
2. **the public fallback** for elements not in that table, and for the quantities a table leaves blank (per
   quantity: a blank G takes the public G, the table's B and E_coh stay): B and G from pymatgen's
   ``Element.bulk_modulus`` / ``rigidity_modulus`` (WebElements data), a missing one completed from the
   isotropic-elasticity relations with the element's Young's modulus or Poisson's ratio where pymatgen has them;
   E_coh from Kittel, *Introduction to Solid State Physics* (8th ed.), as shipped in
   ``ase.data.cohesive_energies``. Values still missing give NaN in the columns that need them, with a warning
   naming the elements and the sources looked up.

Every source string names its file and the first 12 hex digits of its SHA-256;
:func:`element_data_source` gives the line to store with a feature set, :func:`element_data_sources` the
source per element. Elements without a Pauling electronegativity, mass or radius raise :class:`InputError`.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from ase.data.cohesive_energies import cohesive_energy_kittel2005
from pymatgen.core import Element

from ...composition import parse_formula
from ...data import ELEMENT_PROPERTIES
from ...errors import AmorphDBError, InputError

ELEMENT_DATA_ENV = "AMORPHDB_ELEMENT_DATA"
QUANTITIES = ("B", "G", "E_coh")  # the per-element data: GPa, GPa, eV/atom
PUBLIC_SOURCE = "public (pymatgen/WebElements B, G; Kittel E_coh via ASE)"


@dataclass(frozen=True)
class ElementTable:
    """Per-element bulk modulus B (GPa), shear modulus G (GPa), cohesive energy E_coh (eV/atom)."""

    source: str
    values: Mapping[str, tuple[float, float, float]]


#: No table: every element from the public fallback.
PUBLIC_ELEMENT_DATA = ElementTable(source=PUBLIC_SOURCE, values={})


def load_element_table(path: str | os.PathLike, label: str | None = None) -> ElementTable:
    """Read a CSV with columns ``element, bulk_modulus_GPa, shear_modulus_GPa, cohesive_energy_eV``.

    Its source string is ``label`` (default: the absolute path) with the first 12 hex digits of the file's
    SHA-256, so that stored features name the exact table.
    """
    import pandas as pd

    path = Path(path)
    try:
        data = path.read_bytes()
        frame = pd.read_csv(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read element data {path}: {exc}") from None
    needed = ["element", "bulk_modulus_GPa", "shear_modulus_GPa", "cohesive_energy_eV"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"element data {path} lacks the columns {', '.join(missing)}")
    values = {str(r.element): (float(r.bulk_modulus_GPa), float(r.shear_modulus_GPa), float(r.cohesive_energy_eV))
              for r in frame.itertuples()}
    digest = hashlib.sha256(data).hexdigest()[:12]
    return ElementTable(source=f"{label or path.resolve()} (sha256 {digest})", values=values)


def default_element_table() -> ElementTable:
    """``$AMORPHDB_ELEMENT_DATA`` when set, else the table shipped in the package (``amorphdb/data``)."""
    env = os.environ.get(ELEMENT_DATA_ENV)
    if env:
        path = Path(env).resolve()
        if not path.is_file():
            raise InputError(f"${ELEMENT_DATA_ENV} points to {env}, which is not a file")
        return _cached_table(str(path), path.stat().st_mtime_ns, f"${ELEMENT_DATA_ENV} {path}")
    if not ELEMENT_PROPERTIES.is_file():
        raise AmorphDBError(f"the element table shipped with amorphdb is missing ({ELEMENT_PROPERTIES}): "
                            "reinstall the package")
    return _cached_table(str(ELEMENT_PROPERTIES), ELEMENT_PROPERTIES.stat().st_mtime_ns,
                         "paper table amorphdb/data/element_properties.csv")


@lru_cache(maxsize=8)
def _cached_table(path: str, mtime_ns: int, label: str) -> ElementTable:
    return load_element_table(path, label)


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


def element_moduli(symbols: Sequence[str],
                   element_data: ElementTable | None = None) -> tuple[np.ndarray, dict[str, str]]:
    """(n, 3) array of (B GPa, G GPa, E_coh eV/atom) per symbol and the source of each element.

    ``element_data`` defaults to :func:`default_element_table`; elements it lacks, and the quantities it leaves
    blank (NaN), use the public fallback; the source then names both (``"<table> with G from <public>"``).
    """
    table = element_data if element_data is not None else default_element_table()
    rows, sources = [], {}
    for s in symbols:
        own = table.values.get(s)
        if own is None:
            rows.append(public_element_properties(s))
            sources[s] = PUBLIC_SOURCE
            continue
        blank = [k for k, v in enumerate(own) if math.isnan(v)]
        sources[s] = table.source
        if blank:  # a blank cell: that quantity from the public fallback
            public = public_element_properties(s)
            own = tuple(public[k] if k in blank else v for k, v in enumerate(own))
            sources[s] += f" with {', '.join(QUANTITIES[k] for k in blank)} from {PUBLIC_SOURCE}"
        rows.append(own)
    return np.array(rows, dtype=float).reshape(len(symbols), 3), sources


def element_data_sources(formula: str, element_data: ElementTable | None = None) -> dict[str, str]:
    """Which source serves (B, G, E_coh) for each element of ``formula`` (default table as in the docstring)."""
    return element_moduli(sorted(str(e) for e in parse_formula(formula)), element_data)[1]


def element_data_source(formula: str, element_data: ElementTable | None = None) -> str:
    """One line naming the source of (B, G, E_coh) of every element of ``formula``, to store with its features.

    E.g. ``"paper table amorphdb/data/element_properties.csv (sha256 …) for Li, P, S"``; sources joined by
    ``"; "`` when the public fallback serves some elements.
    """
    return describe_sources(element_data_sources(formula, element_data))


def describe_sources(sources: Mapping[str, str]) -> str:
    """``{element: source}`` as one line: ``"<source> for A, B; <source> for C"``."""
    by_source: dict[str, list[str]] = {}
    for element, source in sources.items():
        by_source.setdefault(source, []).append(element)
    return "; ".join(f"{source} for {', '.join(elements)}" for source, elements in by_source.items())


@lru_cache(maxsize=None)
def basic_properties(symbol: str) -> tuple[float, float, float]:
    """(Pauling X, atomic mass amu, empirical atomic radius Å) from pymatgen; InputError when one is missing."""
    el = Element(symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, mass, radius = _quantity(el.X), _quantity(el.atomic_mass), _quantity(el.atomic_radius)
    for name, value in (("Pauling electronegativity", x), ("atomic mass", mass), ("atomic radius", radius)):
        if math.isnan(value):
            raise InputError(f"element {symbol} has no {name} in pymatgen: its features cannot be computed")
    return x, mass, radius
