"""Trajectories as arrays: any file ASE reads, or a list of ASE ``Atoms`` / pymatgen ``Structure`` frames.

:func:`read_trajectory` gives a :class:`Trajectory` (positions and cells in Å, element symbols, the time between
frames in ps and the run's target temperature in K when the frames store them). Positions are unwrapped by the
minimum-image displacement between consecutive frames (:meth:`Trajectory.unwrapped`), so wrapped and unwrapped
files both work as long as no atom moves more than half the smallest perpendicular width of the cell (the
smallest distance between opposite faces; half the edge for a cube) between two frames.

Metadata comes from the frames themselves, never from files next to them: ``atoms.info["time_ps"]``
(:data:`TIME_KEY`, the time of the frame, ps) and ``atoms.info["temperature_K"]`` (:data:`TEMPERATURE_KEY`, the
target temperature of the run, K), which amorphdb's MD writes into every frame of its ``.traj`` files; for a
pymatgen ``Structure`` the same keys of ``structure.properties``.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from pymatgen.core import IStructure

from ..errors import InputError, first_line

TIME_KEY = "time_ps"  # frame info: time of the frame, ps
TEMPERATURE_KEY = "temperature_K"  # frame info: target temperature of the run, K
STEP_WARNING = 0.4  # warn when an atom moves more than this fraction of the cell's smallest width between frames
_IMAGES = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)  # the 27 neighbouring cells


@dataclass
class Trajectory:
    """Frames as arrays: ``positions`` (n_frames, n_atoms, 3) Å as read, ``cells`` (n_frames, 3, 3) Å,
    element ``symbols``, ``dt_ps`` the time between frames (ps) and ``temperature`` the target temperature
    of the run (K; both None when the source does not say). Positions and cells must be finite, cells of
    non-zero volume (InputError)."""

    positions: np.ndarray
    cells: np.ndarray
    symbols: list[str]
    dt_ps: float | None = None
    temperature: float | None = None

    def __post_init__(self) -> None:
        check_finite(self.positions, self.symbols, self.cells)
        if np.any(np.abs(np.linalg.det(self.cells)) < 1e-6):
            raise InputError("the trajectory has no periodic cell (zero cell volume): diffusion and RDF need one")

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def volume(self) -> float:
        """Mean cell volume over the frames, Å³."""
        return float(np.mean(np.abs(np.linalg.det(self.cells))))

    def unwrapped(self) -> np.ndarray:
        """Positions (Å) unwrapped by the minimum-image displacement between consecutive frames.

        Each step is the shortest of the 27 images next to the rounded fractional step (in the later frame's cell).
        A step shorter than half the smallest perpendicular width w of the cell (the smallest distance between
        opposite faces: the edge of a cube, but 3 Å for the cell [[12, 0, 0], [11, 3, 0], [0, 0, 12]]) is always
        recovered; a longer one only while it is still the shortest of its periodic images. A step longer than
        :data:`STEP_WARNING` · w gives a warning: save frames more often.
        """
        inverse = np.linalg.inv(self.cells)
        frac = np.einsum("fai,fij->faj", self.positions, inverse)
        step = np.diff(frac, axis=0)
        step -= np.round(step)
        cells = self.cells[1:]
        width = 1.0 / np.linalg.norm(inverse[1:], axis=1).max(axis=1)  # smallest face-to-face distance, Å
        cart = np.einsum("fai,fij->faj", step, cells)
        length = np.sqrt(np.einsum("fai,fai->fa", cart, cart))
        far = np.argwhere(length >= 0.5 * width[:, None])  # below w/2 the rounded step is the shortest image
        if len(far):
            f, a = far.T
            images = np.einsum("mki,mij->mkj", step[f, a][:, None, :] + _IMAGES, cells[f])
            norms = np.linalg.norm(images, axis=2)
            best = np.argmin(norms, axis=1)
            step[f, a] += _IMAGES[best]
            length[f, a] = norms[np.arange(len(f)), best]
        ratio = length / width[:, None]
        if ratio.size and ratio.max() > STEP_WARNING:
            f, a = np.unravel_index(np.argmax(ratio), ratio.shape)
            warnings.warn(f"atom {a} ({self.symbols[a]}) moves {length[f, a]:.3g} Å between frames {f} and {f + 1}, "
                          f"more than {STEP_WARNING:g} of the cell's smallest width {width[f]:.3g} Å: it may be "
                          "unwrapped wrongly (save frames more often)", stacklevel=2)
        frac = np.concatenate([frac[:1], frac[:1] + np.cumsum(step, axis=0)])
        return np.einsum("fai,fij->faj", frac, self.cells)


def read_trajectory(path_or_frames: str | Path | Iterable | Trajectory, index: str = ":",
                    format: str | None = None) -> Trajectory:
    """Read a trajectory file (any format ASE reads; ``format`` names it when ASE cannot guess it from the
    file, e.g. ``"lammps-dump-text"``) or convert ASE ``Atoms`` / pymatgen ``Structure`` frames (a single
    structure is a one-frame trajectory); a :class:`Trajectory` is returned as it is.

    The time between frames (ps) comes from the frames' :data:`TIME_KEY` when every frame has it and the
    steps are equal; the target temperature (K) from :data:`TEMPERATURE_KEY` when every frame has the same.
    """
    if isinstance(path_or_frames, Trajectory):
        return path_or_frames
    if isinstance(path_or_frames, (str, Path)):
        frames = _read_file(Path(path_or_frames), index, format)
    elif isinstance(path_or_frames, (Atoms, IStructure)):
        frames = [path_or_frames]
    else:
        try:
            frames = list(path_or_frames)
        except TypeError:
            raise InputError(f"not a trajectory: {type(path_or_frames).__name__}") from None
    if not frames:
        raise InputError("the trajectory has no frames")
    positions, cells, info = [], [], []
    symbols = _symbols(frames[0])
    for k, frame in enumerate(frames):
        if _symbols(frame) != symbols:
            raise InputError(f"frame {k} has other atoms than the first frame")
        if isinstance(frame, Atoms):
            positions.append(frame.get_positions())
            cells.append(np.asarray(frame.cell[:], dtype=float))
            info.append(frame.info)
        else:
            positions.append(frame.cart_coords)
            cells.append(frame.lattice.matrix)
            info.append(frame.properties)
    return Trajectory(np.array(positions, dtype=float), np.array(cells, dtype=float), symbols, _frame_step(info),
                      _temperature(info))


def check_finite(positions: np.ndarray, symbols: Sequence[str], cells: np.ndarray | None = None) -> None:
    """InputError naming the first frame whose cell, or frame and atom whose position, is NaN or infinite.

    ``positions`` (n_frames, n_atoms, 3) Å, ``symbols`` one per atom, ``cells`` (n_frames, 3, 3) Å or None.
    """
    if cells is not None and not np.isfinite(cells).all():
        f = int(np.argmin(np.isfinite(cells).reshape(len(cells), -1).all(axis=1)))
        raise InputError(f"frame {f}: the cell {cells[f].tolist()} Å is not finite")
    bad = ~np.isfinite(positions).all(axis=2)
    if bad.any():
        f, a = np.argwhere(bad)[0]
        where = f"frame {f}, atom {a} ({symbols[a]})"
        raise InputError(f"{where}: the position {positions[f, a].tolist()} Å is not finite")


def _read_file(path: Path, index: str, format: str | None) -> list:
    """The frames of ``path`` read by ASE; one-line InputErrors for missing, empty and unreadable files."""
    import ase.io
    from ase.io.formats import UnknownFileTypeError

    if not path.is_file():
        raise InputError(f"trajectory file not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"trajectory file {path} is empty")
    hint = "name the format with --format / format=, e.g. extxyz, vasp-xdatcar, lammps-dump-text"
    try:
        frames = ase.io.read(path, index=index, format=format)
    except UnknownFileTypeError as exc:
        raise InputError(f"cannot read trajectory {path}: ASE does not know the file type {exc.args[0]!r} "
                         f"({hint})") from None
    except Exception as exc:  # ASE raises many types for unreadable files
        first = first_line(exc)
        if format is None:
            first = f"read as {_guessed_format(path)!r}: {first} ({hint})"
        raise InputError(f"cannot read trajectory {path}: {first}") from None
    return frames if isinstance(frames, list) else [frames]


def _frame_step(info: list[dict]) -> float | None:
    """Time between frames (ps) from every frame's :data:`TIME_KEY`; None when one lacks it or steps differ."""
    times = [i.get(TIME_KEY) for i in info]
    if len(times) < 2 or any(t is None for t in times):
        return None
    steps = np.diff(np.asarray(times, dtype=float))
    return float(steps[0]) if np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-6) else None


def _temperature(info: list[dict]) -> float | None:
    """The target temperature (K) every frame states under :data:`TEMPERATURE_KEY`, else None."""
    values = {i.get(TEMPERATURE_KEY) for i in info}
    if len(values) != 1 or None in values:
        return None
    return float(values.pop())


def _guessed_format(path: Path) -> str:
    """The format ASE guesses for ``path`` (from its name and first bytes), or "unknown"."""
    from ase.io.formats import filetype

    try:
        return str(filetype(str(path), guess=True))
    except Exception:  # an empty or unreadable file
        return "unknown"


def _symbols(frame) -> list[str]:
    if isinstance(frame, Atoms):
        return list(frame.get_chemical_symbols())
    if isinstance(frame, IStructure):
        return [site.specie.symbol for site in frame]
    raise InputError(f"a frame must be an ASE Atoms or a pymatgen Structure, got {type(frame).__name__}")


def evenly_spaced(first: int, last: int, n: int) -> np.ndarray:
    """At most ``n`` evenly spaced integers from ``first`` to ``last`` (both included, no repeats): the frames
    or lags to use when there are more than ``n``."""
    return np.unique(np.linspace(first, last, min(n, last - first + 1)).round().astype(int))
