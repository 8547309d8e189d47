"""Fit a model of one kind on a training table, predict with it, save and load it; :func:`train_and_save` and
:func:`resolve_model` are what ``amorphdb train`` and ``amorphdb predict`` call."""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, first_line
from ..units import D_CONVENTIONS, PAPER_D_FACTOR
from .evaluate import cross_val_predict, metrics
from .folds import SEED, grouped_folds, random_folds
from .models import MODEL_KINDS, Model, check_kinds, check_params, fit_model
from .table import TARGET_COLUMNS, check_table, d_convention, feature_columns, load_table

log = logging.getLogger(__name__)

MODEL_FORMAT = "amorphdb-model/1"  # the format tag of a saved model file
SISSO_OPTIONS = ("max_dim", "dim", "n_sis")  # settings only kind "sisso" takes
#: the packages whose versions can change a fitted model (recorded in its metadata, part of the default model's key)
LIBRARIES = ("amorphdb", "scikit-learn", "xgboost", "numpy", "pandas", "scipy", "pymatgen")


def library_versions() -> dict[str, str]:
    """The installed version of each of :data:`LIBRARIES` ("absent" when one is not installed)."""
    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "absent"

    return {package: installed(package) for package in LIBRARIES}


@dataclass
class TrainedModel:
    """A fitted model with its feature list (the input columns, ``temperature`` included) and metadata.

    ``metadata["D_convention"]`` is the convention of the D it learnt (:data:`amorphdb.units.D_CONVENTIONS`;
    a model file without it was trained on the published table: "paper"); :meth:`predict` reports Einstein D.
    """

    kind: str
    model: Model
    features: list[str]
    metadata: dict = field(default_factory=dict)

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """Per input row: ``formula``, ``temperature`` (K), the Einstein tracer ``D`` and ``D_err`` (cm²/s),
        ``ln_D``, ``ln_D_err``, and ``D_paper`` (the same D in the published table's convention, 3 × D).

        Raises :class:`InputError` naming the row and column of a missing or non-numeric feature.
        """
        checked = check_table(table, self.features)
        if "formula" not in checked.columns:
            checked["formula"] = [f"row{i + 1}" for i in range(len(checked))]
        p = self.model.predict(checked)
        factor = D_CONVENTIONS[self.d_convention]
        d = p.d / factor
        return pd.DataFrame({"formula": checked["formula"].to_numpy(), "temperature": checked["temperature"],
                             "D": d, "D_err": p.d_err / factor, "ln_D": p.ln_d - np.log(factor),
                             "ln_D_err": p.ln_d_err, "D_paper": d * PAPER_D_FACTOR})

    @property
    def d_convention(self) -> str:
        """The convention of the D the model learnt ("paper" or "einstein")."""
        return self.metadata.get("D_convention", "paper")

    def save(self, path: str | Path) -> Path:
        """Write the model with joblib (the ``.joblib`` file holds kind, features, metadata and estimator)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": MODEL_FORMAT, "kind": self.kind, "features": self.features,
                     "metadata": self.metadata, "model": self.model}, path)
        return path


def load_model(path: str | Path) -> TrainedModel:
    """Read a model written by :meth:`TrainedModel.save`."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    try:
        obj = joblib.load(path)
    except Exception as exc:  # unpickling raises many types for a file that is not ours
        raise InputError(f"{path} is not an amorphdb model file: {first_line(exc)}") from None
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise InputError(f"{path} is not an amorphdb model file")
    return TrainedModel(obj["kind"], obj["model"], obj["features"], obj["metadata"])


def predict(model: TrainedModel | str | Path, table: pd.DataFrame) -> pd.DataFrame:
    """Predictions of ``model`` (a :class:`TrainedModel` or the path of a saved one) for the rows of ``table``:
    ``formula``, ``temperature`` (K), ``D``, ``D_err`` (cm²/s), ``ln_D``, ``ln_D_err``."""
    return (model if isinstance(model, TrainedModel) else load_model(model)).predict(table)


def check_settings(kind: str, params: dict[str, Any]) -> None:
    """Raise :class:`InputError` for an unknown ``kind``, SISSO settings (:data:`SISSO_OPTIONS`) given to
    another kind, or any other parameter the kind does not take."""
    check_kinds([kind])
    if kind != "sisso" and any(p in params for p in SISSO_OPTIONS):
        raise InputError("the SISSO settings max_dim, dim, n_sis (--max-dim, --dim, --n-sis) apply to "
                         "--model sisso only")
    check_params(kind, params)


def train(table: pd.DataFrame, kind: str = "best", seed: int = SEED, cv: bool = True,
          n_members: int = 20, n_bootstrap: int = 100, **params: Any) -> TrainedModel:
    """Fit a model of ``kind`` on ``table`` (all rows); with ``cv`` also its 5-fold CV scores (metadata).

    The CV scores are those of :func:`~amorphdb.learning.evaluate.evaluate` on the same table: random 5-fold
    (the paper's) and composition-grouped 5-fold, without the uncertainty ensembles (they do not change the
    point prediction); ``metadata["cv_folds"]`` holds, per protocol, the fold that held out each row (in the
    table's row order). ``params`` go to the model's constructor. The model learns D in the table's convention
    (:func:`~amorphdb.learning.table.d_convention`) and predicts Einstein D; its CV scores are in the table's.
    """
    check_settings(kind, params)
    features = feature_columns(table)
    checked = check_table(table, features, target=True)
    convention = d_convention(checked)
    meta: dict[str, Any] = {
        "kind": kind,
        "target": "ln D (cm2/s)" if kind not in ("rf", "xgb") else f"{TARGET_COLUMNS[convention]} (1e-3 cm2/s)",
        "D_convention": convention, "predicts": "Einstein tracer D (cm2/s)",
        "n_rows": len(checked), "n_formulas": int(checked["formula"].nunique()),
        "temperatures": sorted(float(t) for t in checked["temperature"].unique()), "seed": seed,
        "params": params, "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "versions": library_versions(),
    }
    if cv:
        scores, cv_folds = {}, {}
        for protocol, folds in (("random-cv", random_folds(checked, seed=seed)),
                                ("grouped-cv", grouped_folds(checked, seed=seed))):
            pred = cross_val_predict(kind, checked, features, folds, seed=seed, n_members=0, n_bootstrap=0,
                                     **params)
            scores[protocol] = metrics(checked, pred)
            cv_folds[protocol] = pred.fold.tolist()
            log.info("%s %s: RMSE(D) %.3g cm2/s, RMSE(ln D) %.3f, R2(D) %.3f", kind, protocol,
                     scores[protocol]["rmse_D"], scores[protocol]["rmse_lnD"], scores[protocol]["r2_D"])
        meta["cv"], meta["cv_folds"] = scores, cv_folds
    log.info("fitting %s on %d rows", kind, len(checked))
    model = fit_model(kind, checked, features, seed=seed, n_members=n_members, n_bootstrap=n_bootstrap, **params)
    if kind == "sisso":
        meta["sisso"] = model.summary()
    meta["D_convention"] = getattr(model, "d_convention", meta["D_convention"])  # a fixed equation keeps its own
    return TrainedModel(kind, model, list(model.features), meta)  # sisso-paper needs only its four columns


@dataclass(frozen=True)
class SavedModel:
    """A model trained and saved by :func:`train_and_save`: the ``path`` of its file and its id in the
    database (``model_id``; None when not recorded)."""

    model: TrainedModel
    path: Path
    model_id: int | None


def train_and_save(out: str | Path, kind: str = "best", *, data: str | Path | None = None,
                   db: str | os.PathLike[str] | None = None, source: str = "paper-aimd", seed: int = SEED,
                   cv: bool = True, n_members: int = 20, n_bootstrap: int = 100, **params: Any) -> SavedModel:
    """:func:`train` a model of ``kind`` on the CSV file ``data``, or on the training table of ``source`` in the
    database ``db`` (URL; None: the default database), and save it to ``out`` (joblib).

    ``metadata["data"]`` names the table. The model is recorded in the database (under the file's stem) when
    its table came from there or when ``db`` is given.
    """
    from ..database.api import Database

    check_settings(kind, params)
    database = Database(db) if data is None or db is not None else None
    table = load_table(data, None if data is not None else database, source=source)
    trained = train(table, kind, seed=seed, cv=cv, n_members=n_members, n_bootstrap=n_bootstrap, **params)
    trained.metadata["data"] = (str(data) if data is not None  # the URL without its password
                                else f"database {database.safe_url} source {source}")
    path = trained.save(out)
    model_id = None if database is None else database.add_model(path.stem, kind, path.resolve(), trained.metadata)
    return SavedModel(trained, path, model_id)


def resolve_model(model: str | Path | TrainedModel | None,
                  training_table: Callable[[], pd.DataFrame] | None = None) -> TrainedModel:
    """``model`` ready to predict: a :class:`TrainedModel` as it is, a saved model file loaded, a kind name
    (``MODEL_KINDS``) trained on demand (no CV) on ``training_table()``, which only a caller that may train
    gives (``amorphdb predict FORMULA``), or None: the default model (:func:`amorphdb.learning.default.default_model`,
    ``best`` on the shipped published table, cached)."""
    if isinstance(model, TrainedModel):
        return model
    if model is None:
        from .default import default_model

        return default_model()
    if Path(model).is_file():
        return load_model(model)
    if model in MODEL_KINDS and training_table is not None:
        log.info("training a %s model on demand (save one with 'amorphdb train' to skip this)", model)
        return train(training_table(), str(model), cv=False)
    raise InputError(f"model file {model} does not exist (a kind name trains on demand only with FORMULA)")
