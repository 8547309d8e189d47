"""The interface every engine adapter returns: :class:`Potential`, an ASE calculator with its provenance.

Also the two helpers the adapters share: the torch device check and the installed version of a package.
torch is imported only when a device is resolved (by the ML adapters), never when this module loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ..errors import EngineError

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator


@dataclass
class Potential:
    """An ASE calculator with its provenance: ``name`` and ``version`` go into every run's database row
    (for ``module:factory`` the name is the factory's, lower case, and the version names the spec).

    ``elements`` is the set of element symbols the potential covers, or ``None`` when unknown (then
    :func:`amorphdb.engines.check_elements` probes each element with a two-atom cell). ``device``: where it
    runs (``cpu``, ``cuda``, ``cuda:N``).
    """

    name: str
    version: str
    calculator: Calculator
    elements: frozenset[str] | None
    device: str = "cpu"


def torch_device(device: str | None) -> str:
    """``device`` checked against what torch sees (``cpu``, ``cuda``, ``cuda:N``); default: the GPU if any."""
    import torch

    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not (device == "cuda" or device.startswith("cuda:")):
        raise EngineError(f"unknown device {device!r}: use cpu or cuda (cuda:N for the N-th GPU)")
    if device != "cpu" and not torch.cuda.is_available():
        raise EngineError(f"device {device} asked for, but torch sees no GPU here: use --device cpu or leave it out")
    return device


def package_version(dist: str) -> str:
    """Installed version of the distribution ``dist``, or ``unknown``."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
