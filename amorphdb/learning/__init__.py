"""Models that learn Li diffusivity D from the paper's 43 inputs, their evaluation protocols, save and load.

- :mod:`.table`: the training table (``load_table``, ``check_table``, ``feature_columns``, ``TARGET``);
- :mod:`.models`: the model kinds (``MODEL_KINDS``, ``make_model``), one module per family;
- :mod:`.sisso`: the SISSO regressor; :mod:`.folds`: the train/test splits;
- :mod:`.train`: ``train``, ``predict``, ``TrainedModel``, ``load_model``;
- :mod:`.evaluate`: metrics, ``evaluate`` (every kind on the same folds), ``holdout_curve``;
- :mod:`.explain`: importances and SHAP values of the tree models.
- :mod:`.default`: the default model (``best`` on the shipped published table, trained once, cached);
- :mod:`.uncertainty`: the fast route's error bar (model σ with the measured feature shifts).

Import from the defining submodule (the public entry points also import from ``amorphdb``). The model
classes are re-exported here only so that model files saved when they lived in ``amorphdb.learning`` load.
"""

from .models.arrhenius import ArrheniusKRR, ArrheniusPlusGBM, MonotoneGBM
from .models.ensemble import CalibratedEnsemble, Stack
from .models.paper import PaperRF, PaperSISSO, PaperXGB
from .models.sisso_model import SISSOModel

__all__ = ["ArrheniusKRR", "ArrheniusPlusGBM", "CalibratedEnsemble", "MonotoneGBM", "PaperRF", "PaperSISSO",
           "PaperXGB", "SISSOModel", "Stack"]
