"""What the tree models learnt: built-in feature importances and SHAP values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .table import check_table
from .train import TrainedModel


def tree_explanations(trained: TrainedModel, table: pd.DataFrame) -> tuple[pd.Series, np.ndarray, pd.DataFrame]:
    """For ``rf`` and ``xgb``: built-in importances (impurity for RF, gain for XGBoost, summing to 1), SHAP
    values (``shap.TreeExplainer``, in the target's unit 1e-3 cm²/s) and the input rows they explain."""
    import shap

    if trained.kind not in ("rf", "xgb"):
        raise InputError(f"tree explanations need an rf or xgb model, not {trained.kind!r}")
    x = check_table(table, trained.features)[trained.features]
    est = trained.model.model
    imp = pd.Series(est.feature_importances_, index=trained.features).sort_values(ascending=False)
    values = shap.TreeExplainer(est).shap_values(x)
    return imp / imp.sum(), np.asarray(values), x
