"""Fixtures of the analysis tests: synthetic random walks and the paper's published data (shipped)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class Walks:
    """3D Brownian walkers ('Li') among immobile heavy atoms ('Pb'): ``walks(seed, ...)`` gives unwrapped
    positions (frames, atoms, 3) in Å and the symbols; frames ``dt`` ps apart, diffusivity ``d_true`` Å²/ps."""

    dt: float = 0.02  # ps between frames
    d_true: float = 0.1  # Å²/ps = 1e-5 cm²/s

    def __call__(self, seed: int, n_frames: int = 1000, n_walkers: int = 20, n_frozen: int = 20,
                 box: float = 12.0, d: float | None = None) -> tuple[np.ndarray, list[str]]:
        d = self.d_true if d is None else d
        rng = np.random.default_rng(seed)
        walk = np.cumsum(rng.normal(0.0, np.sqrt(2 * d * self.dt), (n_frames, n_walkers, 3)), axis=0)
        walk += rng.random((1, n_walkers, 3)) * box
        frozen = np.broadcast_to(rng.random((1, n_frozen, 3)) * box, (n_frames, n_frozen, 3))
        return np.concatenate([walk, frozen], axis=1), ["Li"] * n_walkers + ["Pb"] * n_frozen


@pytest.fixture(scope="session")
def walks() -> Walks:
    """Random walks with a known D (:class:`Walks`)."""
    return Walks()


@pytest.fixture(scope="session")
def paper_data(tmp_path_factory) -> Path:
    """The paper's published data shipped in the package, unpacked into a temporary directory in the published
    layout (``ml_features.csv``, ``element_properties.csv``, ``rdf/``)."""
    from amorphdb.data import paper_dir

    return paper_dir(tmp_path_factory.mktemp("reference"))
