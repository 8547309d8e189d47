"""Train/test splits of a training table: the paper's random ones, composition-grouped, leave one temperature out.

Each fold is ``(train rows, test rows)``, positions into the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AmorphDBError, InputError
from .table import check_formulas

SEED = 62  # the paper's random_state

Folds = list[tuple[np.ndarray, np.ndarray]]


def random_folds(table: pd.DataFrame, n_splits: int = 5, seed: int = SEED) -> Folds:
    """Shuffled K-fold over rows (the paper's CV: other temperatures of a test composition are in training)."""
    from sklearn.model_selection import KFold

    return list(KFold(n_splits, shuffle=True, random_state=seed).split(table))


def grouped_folds(table: pd.DataFrame, n_splits: int = 5, seed: int = SEED) -> Folds:
    """K-fold over compositions: every row of a composition (:func:`composition_groups`) is on one side only."""
    from sklearn.model_selection import GroupKFold

    groups = composition_groups(table["formula"])
    n = min(n_splits, groups.nunique())
    if n < 2:
        raise InputError("grouped cross-validation needs at least two compositions")
    return list(GroupKFold(n, shuffle=True, random_state=seed).split(table, groups=groups))


def composition_groups(formulas: pd.Series) -> pd.Series:
    """One label per composition: the reduced formula, so that ``Li2O`` and ``Li4O2`` are one group (a label
    that is not a chemical formula stays as it is). :class:`InputError` naming the row of a missing formula."""
    from ..composition import reduced_formula

    check_formulas(formulas)

    def label(formula: str) -> str:
        try:
            return reduced_formula(formula)
        except AmorphDBError:
            return formula

    names = {f: label(f) for f in pd.unique(formulas)}
    return formulas.map(names)


def composition_rows(table: pd.DataFrame, formula: str) -> np.ndarray:
    """Boolean mask of the rows of ``table`` with the composition of ``formula`` (:func:`composition_groups`:
    ``Li4O2`` rows for ``Li2O``)."""
    mine = composition_groups(pd.Series([formula])).iloc[0]
    return (composition_groups(table["formula"]) == mine).to_numpy()


def temperature_folds(table: pd.DataFrame) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Leave one temperature out: (T in K, train rows at the other temperatures, test rows at T)."""
    t = table["temperature"].to_numpy()
    return [(float(v), np.flatnonzero(t != v), np.flatnonzero(t == v)) for v in np.unique(t)]


def paper_split(table: pd.DataFrame, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The paper's 85/15 random split of the rows (``train_test_split(test_size=0.15, random_state=62)``)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(table)), test_size=0.15, random_state=seed)
    return train, test
