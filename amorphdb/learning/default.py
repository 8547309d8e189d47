"""The default model: ``best`` trained on the published table shipped with the package, once, then cached.

Training is deterministic (seed 62, no CV), so the cached file is a pure function of the table and the code that
fits it: it lives under ``<data home>/models/`` (:func:`amorphdb.paths.data_home`) with a name made of the
hash of the shipped table and of the code and library versions that produced it (:data:`KEY_SOURCES`,
:data:`~amorphdb.learning.train.LIBRARIES`). A new table, a change of that code or of a library makes a new file;
an old one is never read by mistake.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from ..data import PAPER_TABLE
from ..paths import data_home
from .folds import SEED

log = logging.getLogger(__name__)

DEFAULT_KIND = "best"
_PACKAGE = Path(__file__).resolve().parents[1]
#: the sources the fitted model depends on: the learning package, the formula parsing of its composition groups
#: and the units of its target
KEY_SOURCES: tuple[Path, ...] = (*sorted(Path(__file__).resolve().parent.rglob("*.py")),
                                 _PACKAGE / "composition.py", _PACKAGE / "units.py")


def default_model_path(cache: str | os.PathLike | None = None) -> Path:
    """Where the default model is cached: ``<cache or data home/models>/best-<data>-<code>.joblib``."""
    from .train import library_versions

    data = hashlib.sha256(PAPER_TABLE.read_bytes()).hexdigest()[:12]
    code = hashlib.sha256()
    for path in KEY_SOURCES:
        code.update(path.relative_to(_PACKAGE).as_posix().encode() + path.read_bytes())
    for package, installed in library_versions().items():
        code.update(f"{package}={installed}".encode())
    return Path(cache or data_home() / "models") / f"{DEFAULT_KIND}-{data}-{code.hexdigest()[:12]}.joblib"


def default_model(cache: str | os.PathLike | None = None):
    """The default :class:`~amorphdb.learning.train.TrainedModel`: read from the cache, else trained on the shipped
    published table (about a minute on 2 cores) and written there atomically (safe with concurrent callers)."""
    from .table import load_table
    from .train import load_model, train

    path = default_model_path(cache)
    if path.is_file():
        return load_model(path)
    log.warning("training the default model (%s on the shipped published table) once; cached in %s",
                DEFAULT_KIND, path)
    trained = train(load_table(_unpacked_table()), DEFAULT_KIND, seed=SEED, cv=False)
    trained.metadata["data"] = f"shipped published table ({PAPER_TABLE.name})"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".joblib", dir=path.parent)
    os.close(fd)
    try:
        trained.save(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return trained


def _unpacked_table() -> Path:
    from ..data import paper_dir

    return paper_dir() / "ml_features.csv"
