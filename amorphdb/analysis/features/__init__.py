"""The 42 feature columns of the paper's table (Zheng et al. 2024, Table 1) plus density, by column name.

Two families, named exactly as the columns of the paper's ``ml_features.csv``:

* **compositional** (:data:`COMPOSITIONAL_COLUMNS`, 21; :mod:`.compositional`): composition-weighted element
  averages. Pauling electronegativity, atomic mass and atomic radius come from pymatgen; B, G and E_coh from
  the element table shipped in the package, with a public fallback (:mod:`.elements`, which also names the
  source to store with every feature set: :func:`element_data_source`).
* **structural** (:data:`STRUCTURAL_COLUMNS`, 21, plus ``density`` in g/cm³; :mod:`.structural`): from one
  periodic cell; :func:`trajectory_features` averages them over frames.

:func:`features` gives all 42 in file order for one cell; :func:`features_of` those of a structure file, a
trajectory's frames or a formula, with the element-data sources (``amorphdb features``). Definitions of every
column: ``docs/features.md``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from pymatgen.core import Composition, Structure

from .compositional import COMPOSITIONAL_COLUMNS, compositional_features
from .elements import (
    ELEMENT_DATA_ENV,
    PUBLIC_ELEMENT_DATA,
    PUBLIC_SOURCE,
    ElementTable,
    default_element_table,
    element_data_source,
    element_data_sources,
    load_element_table,
    public_element_properties,
)
from .structural import MODES, STRUCTURAL_COLUMNS, as_atoms, read_frames, read_structure, structural_features
from ..trajectory import evenly_spaced
from ...errors import InputError

__all__ = [
    "FEATURE_COLUMNS", "STRUCTURAL_COLUMNS", "COMPOSITIONAL_COLUMNS", "MODES", "features", "trajectory_features",
    "compositional_features", "structural_features", "read_structure", "read_frames", "ElementTable",
    "PUBLIC_ELEMENT_DATA", "PUBLIC_SOURCE", "ELEMENT_DATA_ENV", "load_element_table", "default_element_table",
    "element_data_source", "element_data_sources", "public_element_properties", "FeatureSet", "features_of",
]

logger = logging.getLogger(__name__)

#: The 42 feature columns of ``ml_features.csv``, in file order (after formula, D and temperature).
FEATURE_COLUMNS: list[str] = STRUCTURAL_COLUMNS + COMPOSITIONAL_COLUMNS


def features(structure: Structure | Atoms, temperature: float | None = None, mode: str = "paper",
             element_data: ElementTable | None = None) -> dict[str, float]:
    """All 42 feature columns (file order) plus ``density`` (g/cm³), plus ``temperature`` (K) when given."""
    atoms = as_atoms(structure)
    return _assemble(structural_features(atoms, mode=mode), atoms, element_data, temperature)


def _assemble(structural: Mapping[str, float], atoms: Atoms, element_data: ElementTable | None,
              temperature: float | None) -> dict[str, float]:
    """``structural`` with the compositional columns of ``atoms`` in file order, ``density``, ``temperature``."""
    compositional = compositional_features(Composition(atoms.get_chemical_formula()), element_data)
    merged = {**structural, **compositional}
    out = {c: float(merged[c]) for c in FEATURE_COLUMNS}
    out["density"] = float(structural["density"])
    if temperature is not None:
        out["temperature"] = _temperature(temperature)
    return out


def _temperature(value: float) -> float:
    """``value`` as the temperature column (K); InputError unless positive and finite."""
    if not 0 < float(value) < math.inf:
        raise InputError(f"temperature must be positive and finite (K), got {value}")
    return float(value)


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
    return _assemble(mean, as_atoms(frames[int(picks[0])]), element_data, temperature)


@dataclass(frozen=True)
class FeatureSet:
    """Feature columns of one composition or structure (:func:`features_of`): ``values`` column → value (units
    of ``docs/features.md``; ``temperature`` K last when given), ``element_data`` element → source of its
    B, G, E_coh."""

    formula: str
    values: dict[str, float]
    element_data: dict[str, str]

    def to_dict(self) -> dict[str, float | dict[str, str]]:
        """The columns, then ``"element_data"``: element → source (the ``amorphdb features --json`` object)."""
        return {**self.values, "element_data": dict(self.element_data)}


def features_of(structure: str | os.PathLike | Structure | Atoms | None = None, *, formula: str | None = None,
                frames: int = 1, mode: str = "paper", compositional: bool = False, temperature: float | None = None,
                element_data: ElementTable | None = None) -> FeatureSet:
    """The feature columns of a ``structure`` (a file ASE or pymatgen reads, or a structure) or of a ``formula``
    (compositional only); give exactly one.

    ``frames`` > 1: the structural columns averaged over that many evenly spaced frames of a trajectory file
    (1: its last frame). ``compositional``: only the 21 compositional columns. ``temperature`` (K) adds that
    column. ``mode``: "paper" (the published table's conventions) or "physical".
    """
    if (structure is None) == (formula is None):
        raise InputError("give either a structure (STRUCTURE_FILE) or a formula (--formula FORMULA)")
    if frames < 1:
        raise InputError(f"frames (--frames) must be at least 1, got {frames}")
    if formula is not None:
        values = compositional_features(formula, element_data)
    else:
        path = isinstance(structure, (str, os.PathLike))
        if frames > 1 and not compositional:
            cells = read_frames(structure) if path else [as_atoms(structure)]
            atoms = cells[0]
            values = trajectory_features(cells, n_samples=frames, mode=mode, element_data=element_data)
        else:
            atoms = read_structure(structure) if path else as_atoms(structure)
            values = (compositional_features(atoms.get_chemical_formula(), element_data) if compositional
                      else features(atoms, mode=mode, element_data=element_data))
        formula = atoms.get_chemical_formula()
    if temperature is not None:
        values["temperature"] = _temperature(temperature)
    return FeatureSet(formula, values, element_data_sources(formula, element_data))
