"""SevenNet: the ``7net-0`` weights ship in the ``sevenn`` wheel (optional extra ``amorphdb[sevennet]``)."""

from __future__ import annotations

from .base import Potential, package_version, torch_device


def load_sevennet(device: str | None = None) -> Potential:
    """SevenNet-0 as a :class:`Potential` on ``device`` (default: the GPU when torch sees one)."""
    dev = torch_device(device)
    from ase.data import chemical_symbols
    from sevenn.calculator import SevenNetCalculator

    calc = SevenNetCalculator("7net-0", device=dev)
    covered = frozenset(chemical_symbols[z] for z in calc.type_map)
    return Potential("sevennet", f"{package_version('sevenn')} (model 7net-0)", calc, covered, dev)
