"""The paper's models: random forest and XGBoost on D (1e-3 cm²/s), and its fixed 4-D SISSO equation of ln D."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..folds import SEED
from ..table import D_UNIT, target_d
from .base import Prediction, XGBSettings


@dataclass(kw_only=True)
class PaperRF:
    """The paper's random forest on D (1e-3 cm²/s); uncertainty = standard deviation over the trees."""

    n_estimators: int = 100
    seed: int = SEED
    n_jobs: int = 1

    def fit(self, table: pd.DataFrame, features: list[str]) -> PaperRF:
        from sklearn.ensemble import RandomForestRegressor

        self.features = features
        self.model = RandomForestRegressor(n_estimators=self.n_estimators, random_state=self.seed,
                                           n_jobs=self.n_jobs)
        self.model.fit(table[features].to_numpy(), target_d(table))
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        x = table[self.features].to_numpy()
        per_tree = np.stack([t.predict(x) for t in self.model.estimators_]) * D_UNIT
        return Prediction.from_d(per_tree.mean(0), per_tree.std(0), floor=1e-12)


@dataclass(kw_only=True)
class PaperXGB(XGBSettings):
    """The paper's XGBoost on D (1e-3 cm²/s); uncertainty = spread over ``n_bootstrap`` models on row bootstraps.

    A prediction of D at or below zero (possible for boosted trees) is raised to half the smallest training D
    before taking ln D.
    """

    n_estimators: int = 100
    max_depth: int = 4
    learning_rate: float = 0.1
    subsample: float = 1.0  # XGBoost's defaults, as in the paper
    colsample_bytree: float = 1.0
    n_bootstrap: int = 100

    def fit(self, table: pd.DataFrame, features: list[str]) -> PaperXGB:
        self.features = features
        x, y = table[features].to_numpy(), target_d(table)
        self.floor = 0.5 * float(y.min()) * D_UNIT
        self.model = self.regressor().fit(x, y)
        rng = np.random.default_rng(self.seed)
        self.bootstrap = []
        for b in range(self.n_bootstrap):
            idx = rng.integers(0, len(y), len(y))
            self.bootstrap.append(self.regressor(seed=self.seed + 1 + b).fit(x[idx], y[idx]))
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        x = table[self.features].to_numpy()
        d = self.model.predict(x).astype(float) * D_UNIT
        if self.bootstrap:
            spread = np.stack([m.predict(x) for m in self.bootstrap]).std(0) * D_UNIT
        else:
            spread = np.full_like(d, np.nan)
        return Prediction.from_d(d, spread, floor=self.floor)


class PaperSISSO:
    """The paper's 4-D SISSO equation ln D = −0.33/(kB T) − 0.11 LNC + 0.11 LLB − 1.95 PF − 3.55, fixed;
    uncertainty = its training RMSE 0.365 in ln D (:func:`amorphdb.learning.sisso.paper_sisso_model`). It was
    fitted to the published D, so it predicts D in the paper's convention whatever table it is given."""

    d_convention = "paper"  # the D it predicts, whatever the training table's (amorphdb.learning.train)

    def fit(self, table: pd.DataFrame, features: list[str]) -> PaperSISSO:
        self.features = ["LNC", "LLB", "PF", "temperature"]
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        from ..sisso import paper_sisso_model

        model = paper_sisso_model()
        ln = np.asarray(model.predict(table), dtype=float)
        return Prediction.from_ln(ln, np.full_like(ln, model.equation().rmse))
