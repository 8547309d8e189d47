"""SISSO of ln D with its descriptor dimension chosen by composition-grouped cross-validation."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ..folds import SEED, grouped_folds
from ..table import ln_d
from .base import Prediction

if TYPE_CHECKING:
    from ..sisso import SISSORegressor

log = logging.getLogger(__name__)


class SISSOModel:
    """SISSO of ln D on the features and 1/(kB T) (:class:`~amorphdb.learning.sisso.SISSORegressor`, which turns
    the ``temperature`` column into 1/(kB T)), with the descriptor dimension chosen by composition-grouped CV.

    Training RMSE only falls with the dimension, so it cannot choose one: SISSO is refitted from scratch
    (feature space and screening included) on each of ``n_folds`` composition-grouped folds, and ``dim_`` is
    the smallest dimension whose out-of-fold RMSE of ln D is within ``CV_TOLERANCE`` of the lowest (``dim``
    fixes it instead). Uncertainty = that grouped-CV RMSE of ln D of ``dim_`` (the error on an unseen
    composition), the same for every row. ``sisso_params`` go to the regressor (``n_sis``, ``rung``, ...).
    """

    CV_TOLERANCE = 0.02  # a larger dimension must lower the grouped-CV RMSE by more than 2 % to be chosen

    def __init__(self, max_dim: int = 4, dim: int | None = None, n_folds: int = 5, seed: int = SEED,
                 **sisso_params: Any):
        if max_dim < 1 or (dim is not None and not 1 <= dim <= max_dim):
            raise InputError(f"SISSO dimension must be between 1 and max_dim={max_dim}, got {dim}")
        self.max_dim, self.dim, self.n_folds, self.seed = max_dim, dim, n_folds, seed
        self.sisso_params = sisso_params

    def _regressor(self) -> SISSORegressor:
        from ..sisso import SISSORegressor

        return SISSORegressor(max_dim=self.max_dim, target_name="ln D", **self.sisso_params)

    def fit(self, table: pd.DataFrame, features: list[str]) -> SISSOModel:
        self.features = features
        x, y = table[features], ln_d(table)
        self.model = self._regressor().fit(x, y)
        dims = [e.dimension for e in self.model.equations_]
        if self.dim is not None and self.dim not in dims:
            raise InputError(f"SISSO dimension {self.dim} is not available: the screened features gave "
                             f"descriptors of dimension {', '.join(map(str, dims))} only")
        sq = np.zeros(len(dims))
        for tr, te in grouped_folds(table, self.n_folds, self.seed):
            fold = self._regressor().fit(x.iloc[tr], y[tr])
            for i, d in enumerate(dims):
                try:
                    sq[i] += np.sum((fold.predict(x.iloc[te], dim=d) - y[te]) ** 2)
                except InputError:  # the fold stopped below d, or a descriptor is undefined on a test row
                    sq[i] = np.inf
        self.cv_rmse = np.sqrt(sq / len(y))
        ok = self.cv_rmse <= self.cv_rmse.min() * (1.0 + self.CV_TOLERANCE)
        self.dim_ = self.dim if self.dim is not None else dims[int(np.argmax(ok))]
        self.rmse = float(self.cv_rmse[dims.index(self.dim_)])
        log.info("SISSO grouped-CV RMSE of ln D by dimension %s: dimension %d",
                 ", ".join(f"{d}-D {r:.3f}" for d, r in zip(dims, self.cv_rmse)), self.dim_)
        return self

    def summary(self) -> dict[str, Any]:
        """The chosen dimension and, per dimension, the equation with its training and grouped-CV RMSE (ln D)."""
        return {"dim": self.dim_, "equations": [
            {"dim": e.dimension, "equation": e.equation, "rmse_train": e.rmse, "rmse_grouped_cv": float(r)}
            for e, r in zip(self.model.equations_, self.cv_rmse)]}

    def predict(self, table: pd.DataFrame) -> Prediction:
        ln = np.asarray(self.model.predict(table[self.features], dim=self.dim_), dtype=float)
        return Prediction.from_ln(ln, np.full_like(ln, self.rmse))
