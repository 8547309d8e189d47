"""Partial radial distribution functions g(r), the paper's CSV layout, and the R² between two RDF sets.

Definition. For elements A, B with N_A, N_B atoms in a cell of volume V, averaged over frames,

    g_AB(r) = V / (N_A N_B) · ⟨ Σ_{i∈A} Σ_{j∈B, j≠i} δ(r − r_ij) ⟩ / (4π r²)

over every periodic image within the cutoff (pymatgen's ``find_points_in_spheres`` neighbour list, so a
cutoff larger than half the cell is handled). This is the textbook (canonical) normalisation and the one of
the paper's files: g_AB → 1 at large r in a liquid, g_AA → (N_A − 1)/N_A (up to r = the cell edge, where an
atom starts to meet its own periodic images), and the running coordination number 4π (N_B/V) ∫ g_AB r² dr
counts the B neighbours of an A atom exactly.

The paper's files (shipped in ``amorphdb/data/paper/rdf.tar.xz``) are on the grid r = 0, 0.1, …, 10 Å and are
smooth down to 1e-7: they are a histogram convolved with a Gaussian of σ = 0.1 Å (deconvolving them with
σ ≤ 0.1 Å leaves a residual of 1e-8, σ = 0.12 Å already 2e-3), the σ and grid of pymatgen-analysis-diffusion's
``RadialDistributionFunction`` defaults, with distances beyond 10 Å included (no drop at the last point).
:func:`partial_rdfs` does the same by default: distances are binned on a 0.01 Å grid up to r_max + 5σ,
divided by the shell volumes, and the result is convolved with the Gaussian and read at the grid points. The
Gaussian is sampled at the fine-bin centres and each grid point's weights are normalised to sum to 1, so that a
Gaussian narrower than a fine bin reads the bins next to the point (an ideal gas gives g = 1 for any σ) and the
points within 5σ of r = 0 are not cut in half; for σ ≥ 0.01 Å the sum is 1 to 1e-8 anyway away from r = 0.
``sigma=0`` gives the plain histogram average over each ±dr/2 bin.

Frames: every frame when there are at most ``max_frames`` (default 1000), else ``max_frames`` evenly spaced
ones (for a 10 000-frame run at 2 fs, one frame every 20 fs: consecutive frames are strongly correlated,
so the average barely changes; the neighbour search costs about 1.5 ms per 100-atom frame).

CSV layout (exactly that of the paper's files): a pandas frame written with its integer index (blank header),
one column per element pair ``"A-B"`` for A ≤ B in the element order of pymatgen's reduced formula
(elements by increasing electronegativity: ``Li10GaSi4`` → Li-Li, Li-Ga, Li-Si, Ga-Ga, Ga-Si, Si-Si), then
the column ``r``.

R² (:func:`rdf_r2`): the coefficient of determination of the candidate against the reference, pooled over
all pairs the two share and all bins, 1 − Σ(g_ref − g_cand)² / Σ(g_ref − ḡ_ref)². Over the 256 DFT/M3GNet
pairs shipped with the paper this gives 89 %, 85 % and 69 % of compositions above 0.85, 0.9 and 0.95; the
paper states 91 %, 85 % and 68 % over its 245 (docs/analysis.md compares other definitions).
:func:`compare_rdfs` adds the R² of each common pair and lists the pairs only one side has (``rdf-compare``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element
from pymatgen.optimization.neighbors import find_points_in_spheres
from tqdm import tqdm

from .trajectory import Trajectory, evenly_spaced, read_trajectory
from ..errors import InputError, first_line

log = logging.getLogger(__name__)

FINE = 0.01  # Å, width of the histogram bins before smoothing


def element_order(symbols: Iterable[str]) -> list[str]:
    """Elements in the order of pymatgen's reduced formula (the order of the paper's RDF columns)."""
    counts: dict[str, int] = {}
    for s in symbols:
        counts[s] = counts.get(s, 0) + 1
    try:
        formula = Composition(counts).reduced_formula
    except Exception:
        raise InputError(f"unknown element among {', '.join(counts)}") from None
    return [el.symbol for el in Composition(formula).elements]


def pair_columns(elements: Sequence[str]) -> list[str]:
    """``"A-B"`` for every pair A ≤ B of ``elements`` in that order (Li, Si → Li-Li, Li-Si, Si-Si)."""
    return [f"{a}-{b}" for a, b in itertools.combinations_with_replacement(elements, 2)]


def partial_rdfs(
    trajectory: str | Path | Iterable | Trajectory,
    *,
    r_max: float = 10.0,
    dr: float = 0.1,
    sigma: float = 0.1,
    max_frames: int = 1000,
) -> pd.DataFrame:
    """Partial g(r) of every element pair, averaged over frames, in the paper's layout (pairs, then ``r``).

    ``trajectory``: a file ASE reads, a list of ASE Atoms / pymatgen Structures (one structure is fine),
    or a :class:`~amorphdb.analysis.trajectory.Trajectory`. Grid r = 0, dr, …, r_max (Å); ``sigma`` (Å) the Gaussian
    smoothing (0: none); at most ``max_frames`` evenly spaced frames are used.
    """
    traj = read_trajectory(trajectory)
    if r_max <= 0 or dr <= 0 or sigma < 0 or max_frames < 1:
        raise InputError("RDF needs r_max > 0, dr > 0, sigma ≥ 0 and max_frames ≥ 1")
    n_grid = int(round(r_max / dr))
    if abs(n_grid * dr - r_max) > 1e-9 * r_max:
        raise InputError(f"r_max = {r_max} Å is not a multiple of dr = {dr} Å")
    r = np.arange(n_grid + 1) * dr
    reach = r_max + (5 * sigma if sigma > 0 else dr / 2)
    edges = np.arange(int(np.ceil(reach / FINE)) + 1) * FINE
    cutoff = edges[-1]  # search to the last edge: every fine bin filled (a narrow σ reads the last one)
    n_fine = len(edges) - 1

    elements = element_order(traj.symbols)
    type_of = {e: k for k, e in enumerate(elements)}
    types = np.array([type_of[s] for s in traj.symbols])
    counts = np.bincount(types, minlength=len(elements)).astype(float)
    n_t = len(elements)

    frames = evenly_spaced(0, traj.n_frames - 1, max_frames)
    log.info("RDF: %d of %d frames, %d atoms, r ≤ %g Å", len(frames), traj.n_frames, len(types), r_max)
    hist = np.zeros(n_t * n_t * n_fine)
    pbc = np.ones(3, dtype=np.int64)
    for f in tqdm(frames, desc="RDF", unit="frame", disable=None, leave=False):
        cell = np.ascontiguousarray(traj.cells[f], dtype=float)
        pos = np.ascontiguousarray(traj.positions[f], dtype=float)
        centre, neighbour, _, dist = find_points_in_spheres(pos, pos, r=cutoff, pbc=pbc, lattice=cell, tol=1e-8)
        keep = (dist > 1e-8) & (dist < cutoff)
        bins = (dist[keep] / FINE).astype(np.int64)
        index = (types[centre[keep]] * n_t + types[neighbour[keep]]) * n_fine + bins
        hist += np.bincount(index, minlength=hist.size) * abs(np.linalg.det(cell))
    hist = hist.reshape(n_t, n_t, n_fine) / len(frames)

    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    centres = (edges[1:] + edges[:-1]) / 2
    if sigma > 0:  # sampled at the fine-bin centres, each row normalised (module docstring)
        z2 = ((r[:, None] - centres[None, :]) / sigma) ** 2
        kernel = np.exp(-0.5 * (z2 - z2.min(axis=1, keepdims=True)))  # the nearest centre weighs 1: no underflow
        kernel /= kernel.sum(axis=1, keepdims=True)
    else:  # the fraction of each fine bin inside [r - dr/2, r + dr/2], over dr: exact for any dr
        low = np.maximum(edges[None, :-1], r[:, None] - dr / 2)
        high = np.minimum(edges[None, 1:], r[:, None] + dr / 2)
        kernel = np.clip(high - low, 0.0, None) / dr
    data = {}
    for (a, ea), (b, eb) in itertools.combinations_with_replacement(enumerate(elements), 2):
        pair_counts = hist[a, b] + hist[b, a] if a != b else hist[a, a]
        norm = counts[a] * counts[b] * (2 if a != b else 1)
        data[f"{ea}-{eb}"] = kernel @ (pair_counts / (norm * shell))
    data["r"] = r
    return pd.DataFrame(data)


def validate_rdf(rdf: pd.DataFrame, where: str = "RDF table", *, allow_nan: bool = False) -> pd.DataFrame:
    """``rdf`` checked against the RDF layout and returned as floats with the index 0, 1, …, columns in order.

    The layout: a column ``r`` (Å, strictly increasing), at least one ``A-B`` column of two element symbols,
    every cell a finite number (a NaN in a g(r) column passes where ``allow_nan``; text and inf never do).
    Errors are InputErrors that start with ``where`` and name the line (data row + 2: the line of a CSV file
    with its header) and column of the first bad cell.
    """
    if "r" not in rdf.columns:
        raise InputError(f"{where}: no column 'r'")
    pairs = [c for c in rdf.columns if c != "r"]
    if not pairs:
        raise InputError(f"{where}: no g(r) column")
    for pair in pairs:
        a, sep, b = str(pair).partition("-")
        if not sep:
            raise InputError(f"{where}: column {pair!r}: RDF columns must be element pairs such as 'Li-S'")
        for el in (a, b):
            if not Element.is_valid_symbol(el):
                raise InputError(f"{where}: column {pair!r}: unknown element {el!r}")
    table = rdf.reset_index(drop=True)
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in table.dtypes):
        values = table.to_numpy(dtype=float)  # the usual case: pandas already parsed every cell
    else:
        values = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if allow_nan:  # a NaN given as NaN stays in g(r)
        bad &= ~(table.isna().to_numpy() & (table.columns != "r"))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        cell = table.iat[i, j]
        cell = cell.item() if isinstance(cell, np.generic) else cell
        raise InputError(f"{where}: line {i + 2}, column {table.columns[j]!r}: {cell!r} is not a number")
    if table.empty:
        raise InputError(f"{where}: no data rows")
    r = values[:, list(table.columns).index("r")].tolist()
    for i in range(1, len(r)):
        if r[i] <= r[i - 1]:
            raise InputError(f"{where}: line {i + 2}, column 'r': {r[i]!r} Å does not increase from {r[i - 1]!r} Å "
                             "(the r grid must be strictly increasing)")
    return pd.DataFrame(values, columns=table.columns)


def read_rdf_csv(path: str | Path) -> pd.DataFrame:
    """Read and check (:func:`validate_rdf`) an RDF file in the paper's layout (index column, ``A-B`` pair
    columns, ``r``); errors name the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"RDF file not found: {path}")
    try:
        df = pd.read_csv(path, index_col=0, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({first_line(exc)})") from None
    return validate_rdf(df, str(path))


def write_rdf_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write RDFs in the paper's layout (integer index with blank header, pair columns, ``r`` last)."""
    if "r" not in df.columns:
        raise InputError("RDF table has no column 'r'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df[[c for c in df.columns if c != "r"] + ["r"]].reset_index(drop=True).to_csv(path)
    return path


def pair_key(name: str) -> frozenset | tuple:
    """The element pair of an ``"A-B"`` column, the same for ``"B-A"``."""
    a, sep, b = str(name).partition("-")
    if not sep or not a or not b or "-" in b:
        raise InputError(f"RDF column {name!r} is not an element pair such as 'Li-S'")
    return (a,) if a == b else frozenset((a, b))


def rdf_r2(reference: pd.DataFrame, candidate: pd.DataFrame, pairs: Sequence[str] | None = None) -> float:
    """R² of ``candidate`` against ``reference`` pooled over their common pairs (or ``pairs``) and all bins.

    R² = 1 − Σ (g_ref − g_cand)² / Σ (g_ref − mean g_ref)², the sums over every bin of every pair;
    ``A-B`` and ``B-A`` are the same pair. Both tables must be on the same r grid.
    """
    common = _common_pairs(reference, candidate)
    if pairs is not None:
        wanted = {pair_key(p) for p in pairs}
        common = [(a, b) for a, b in common if pair_key(a) in wanted]
    if not common:
        raise InputError("the two RDFs share no element pair")
    r2 = _r2(reference, candidate, common)
    if r2 is None:
        raise InputError("the reference RDF is constant: R² is undefined")
    return r2


@dataclass(frozen=True)
class RDFComparison:
    """A candidate RDF set against a reference (:func:`compare_rdfs`).

    ``r2``: R² pooled over all common pairs and bins (:func:`rdf_r2`); ``pairs``: R² of each common pair by
    its name in the reference (a pair constant in the reference has no R² and is left out);
    ``only_in_reference`` / ``only_in_candidate``: the pairs that were not compared.
    """

    r2: float
    pairs: dict[str, float]
    only_in_reference: list[str]
    only_in_candidate: list[str]

    def to_dict(self) -> dict:
        """``{"r2", "pairs", "only_in": {"reference", "candidate"}}``, JSON-ready."""
        return {"r2": self.r2, "pairs": dict(self.pairs),
                "only_in": {"reference": list(self.only_in_reference), "candidate": list(self.only_in_candidate)}}


def compare_rdfs(reference: pd.DataFrame, candidate: pd.DataFrame) -> RDFComparison:
    """R² of ``candidate`` against ``reference``, pooled and per pair, with the pairs only one of them has.

    Both tables in the RDF layout (column ``r`` in Å, ``A-B`` pair columns) on the same r grid; ``A-B`` and
    ``B-A`` are the same pair.
    """
    common = _common_pairs(reference, candidate)
    r2 = rdf_r2(reference, candidate)
    per_pair = {a: v for a, b in common if (v := _r2(reference, candidate, [(a, b)])) is not None}
    matched_ref = {a for a, _ in common}
    matched_cand = {b for _, b in common}
    return RDFComparison(r2, per_pair, [c for c in reference.columns if c != "r" and c not in matched_ref],
                         [c for c in candidate.columns if c != "r" and c not in matched_cand])


def _common_pairs(reference: pd.DataFrame, candidate: pd.DataFrame) -> list[tuple[str, str]]:
    """(reference column, candidate column) of every pair both tables have; checks the ``r`` grids."""
    for name, df in (("reference", reference), ("candidate", candidate)):
        if "r" not in df.columns:
            raise InputError(f"{name} RDF has no column 'r'")
    if len(reference) != len(candidate) or not np.allclose(reference["r"], candidate["r"], atol=1e-6):
        raise InputError("the two RDFs are on different r grids")
    cand = {pair_key(c): c for c in candidate.columns if c != "r"}
    return [(c, cand[pair_key(c)]) for c in reference.columns if c != "r" and pair_key(c) in cand]


def _r2(reference: pd.DataFrame, candidate: pd.DataFrame, pairs: list[tuple[str, str]]) -> float | None:
    """Pooled R² over the matched ``pairs``; None when the reference is constant there."""
    ref = reference[[a for a, _ in pairs]].to_numpy(dtype=float)
    got = candidate[[b for _, b in pairs]].to_numpy(dtype=float)
    total = np.sum((ref - ref.mean()) ** 2)
    return None if total == 0 else float(1 - np.sum((ref - got) ** 2) / total)
