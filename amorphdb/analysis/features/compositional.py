"""The 21 compositional columns of the paper's table (Zheng et al. 2024, Table 1), named as in its
``ml_features.csv``: composition-weighted element averages ``avg P = Σ_e c_e P_e / Σ_e c_e`` over all atoms
("with Li") or over the non-Li atoms ("wiout", "without", "exclude"), in raw units (GPa, Å, amu, eV), and their
combinations. Element data and its sources: :mod:`amorphdb.analysis.features.elements`.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
from pymatgen.core import Composition

from .elements import (
    ELEMENT_DATA_ENV,
    QUANTITIES,
    ElementTable,
    basic_properties,
    describe_sources,
    element_moduli,
)
from ...composition import parse_formula
from ...errors import InputError

logger = logging.getLogger(__name__)

COMPOSITIONAL_COLUMNS: list[str] = [
    "Li_percentage", "avg_B_with_Li", "avg_B_wiout_Li", "avg_G_with_Li", "avg_G_wiout_Li",
    "avg_Ecoh_with_Li", "avg_Echo_wiout_Li", "BR5_M_with_Li", "BR5_M_without_Li", "GR5_M_with_Li",
    "GR5_M_without_Li", "ER2_m_with_Li", "ER2_m_without_Li", "atomic_radius_avg",
    "atomic_radius_avg_exclude_Li", "ratio_r_without_Li_with", "avg_m_with_Li", "avg_m_wiout_Li",
    "avg_X_with_Li", "avg_X_wiout_Li", "avg_diff_of_X_Li_rest",
]


def compositional_features(formula: str | Composition, element_data: ElementTable | None = None) -> dict[str, float]:
    """The 21 compositional columns of the paper's table for ``formula`` (e.g. ``"Li3PS4"``).

    Units are the raw units of the element data (GPa, eV, Å, amu); ``Li_percentage`` is a fraction.
    ``element_data`` defaults to :func:`default_element_table`; elements it lacks use the public fallback.
    """
    comp = formula if isinstance(formula, Composition) else parse_formula(formula)
    symbols = sorted(str(e) for e in comp)
    counts = np.array([comp[s] for s in symbols], dtype=float)
    props, sources = element_moduli(symbols, element_data)
    basic = np.array([basic_properties(s) for s in symbols])
    x, mass, radius = basic.T
    bulk, shear, ecoh = props.T
    negative = np.argwhere(props < 0)
    if len(negative):
        i, j = negative[0]
        name = ("bulk modulus (GPa)", "shear modulus (GPa)", "cohesive energy (eV/atom)")[j]
        raise InputError(f"element data: the {name} of {symbols[i]} is {props[i, j]:g}; it must be ≥ 0 "
                         "(cohesive energies are counted positive for a bound solid)")
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
    logger.info("element data for %s: %s", formula, describe_sources(sources))
    gaps = {f"{name} of {s}": sources[s] for s, row in zip(symbols, props) for name, v in zip(QUANTITIES, row)
            if math.isnan(v)}
    if gaps:
        warnings.warn(f"no element data in {describe_sources(gaps)}; the columns that need them are NaN: "
                      f"set ${ELEMENT_DATA_ENV} to a table that has them", stacklevel=3)
