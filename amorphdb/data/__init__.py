"""The reference data shipped inside the package (CC BY 4.0, see ``README.md`` here): where it is, and loaders.

- ``element_properties.csv``: per-element B, G, E_coh behind the paper's compositional features;
- ``element_volumes.csv``: the per-element volumes behind :func:`amorphdb.guess_density`;
- ``paper/ml_features.csv.gz`` and ``paper/rdf.tar.xz``: the published ML table (165 compositions) and the DFT
  and M3GNet partial RDFs at 5000 K (256 compositions) of Zheng et al., npj Comput. Mater. 10 (2024).

:func:`paper_dir` unpacks the last two once into a directory in the published layout (``ml_features.csv``,
``element_properties.csv``, ``rdf/DFT_RDF_X.csv``), so that everything that reads a reference directory reads
the shipped copy the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ..paths import data_home

DATA = Path(__file__).resolve().parent
PAPER_TABLE = DATA / "paper" / "ml_features.csv.gz"
PAPER_RDFS = DATA / "paper" / "rdf.tar.xz"
ELEMENT_PROPERTIES = DATA / "element_properties.csv"


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def paper_dir(cache: str | os.PathLike | None = None) -> Path:
    """A directory in the published layout holding the shipped paper data, unpacked once (by content hash) under
    ``cache`` (default ``<data home>/reference``). Safe when several processes call it at once."""
    target = Path(cache or data_home() / "reference") / f"paper-{_digest(PAPER_TABLE, PAPER_RDFS)}"
    if (target / "ml_features.csv").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".paper-", dir=target.parent))
    with gzip.open(PAPER_TABLE, "rb") as src, open(tmp / "ml_features.csv", "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(ELEMENT_PROPERTIES, tmp / "element_properties.csv")
    with tarfile.open(PAPER_RDFS, "r:xz") as archive:
        archive.extractall(tmp, filter="data")
    try:
        tmp.rename(target)
    except OSError:  # another process unpacked it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target
