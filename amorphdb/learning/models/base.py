"""What every model shares: its output (:class:`Prediction`), its interface (:class:`Model`) and the XGBoost
settings of the boosted ones (:class:`XGBSettings`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from ..folds import SEED

if TYPE_CHECKING:
    from xgboost import XGBRegressor


@dataclass
class Prediction:
    """Predicted D (cm²/s) and ln D, each with a one-sigma uncertainty (NaN when the model gives none); out of
    fold (:func:`~amorphdb.learning.evaluate.cross_val_predict`), also the fold that predicted each row."""

    ln_d: np.ndarray
    ln_d_err: np.ndarray
    d: np.ndarray
    d_err: np.ndarray
    fold: np.ndarray | None = None  # index of the fold whose model predicted the row; -1: none (a single fit)

    @classmethod
    def from_ln(cls, ln: np.ndarray, ln_err: np.ndarray | None = None) -> Prediction:
        """From ln D (D in cm²/s) and its uncertainty; D's uncertainty is D·σ(ln D)."""
        ln_err = np.full_like(ln, np.nan) if ln_err is None else ln_err
        d = np.exp(ln)
        return cls(ln, ln_err, d, d * ln_err)

    @classmethod
    def from_d(cls, d: np.ndarray, d_err: np.ndarray, floor: float) -> Prediction:
        """From D in cm²/s; D below ``floor`` (a negative XGBoost output) is raised to it before ln."""
        d = np.maximum(d, floor)
        return cls(np.log(d), d_err / d, d, d_err)

    @classmethod
    def empty(cls, n: int) -> Prediction:
        """``n`` rows of NaN, fold -1, to be filled with :meth:`put`."""
        return cls(*(np.full(n, np.nan) for _ in range(4)), fold=np.full(n, -1))

    def put(self, rows: np.ndarray, other: Prediction, fold: int = -1) -> None:
        """Write the rows of ``other``, predicted by the model of ``fold``, into ``rows`` of this prediction."""
        for name in ("ln_d", "ln_d_err", "d", "d_err"):
            getattr(self, name)[rows] = getattr(other, name)
        self.fold[rows] = fold


class Model(Protocol):
    """A model of D: ``fit`` on a checked table (:func:`~amorphdb.learning.table.check_table`) with the input
    columns ``features``, then ``predict`` rows that have them. ``features`` is set by ``fit``."""

    features: list[str]

    def fit(self, table: pd.DataFrame, features: list[str]) -> Model: ...

    def predict(self, table: pd.DataFrame) -> Prediction: ...


@dataclass(kw_only=True)
class XGBSettings:
    """XGBoost settings of a boosted model (defaults: those of the ln-D models); ``seed`` is the random state."""

    n_estimators: int = 200
    max_depth: int = 3
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    seed: int = SEED
    n_jobs: int = 1

    def regressor(self, seed: int | None = None, **extra: Any) -> XGBRegressor:
        """A new ``XGBRegressor`` with these settings (``seed`` replaces the random state; ``extra`` adds
        options such as ``monotone_constraints``)."""
        from xgboost import XGBRegressor

        params = {f.name: getattr(self, f.name) for f in fields(XGBSettings) if f.name != "seed"}
        return XGBRegressor(random_state=self.seed if seed is None else seed, **params, **extra)
