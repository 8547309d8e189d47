"""Energy/force engines behind one interface: CHGNet (default), SevenNet, or any ASE calculator.

A :class:`~amorphdb.engines.base.Potential` is an ASE calculator plus what the database records about it
(name, version) and the elements it covers. :func:`load_engine` builds one from a short spec: ``chgnet``
(:mod:`.chgnet`), ``sevennet`` (:mod:`.sevennet`) or ``module:factory`` for any callable returning an ASE
calculator (:mod:`.ase_factory`, e.g. ``ase.calculators.emt:EMT``). The ML engines run on the GPU when
torch sees one. :func:`check_elements` refuses a composition with an uncovered element before any MD.

This module stays light: torch, CHGNet and SevenNet load only when their adapter is asked for.
``Engine`` is the former name of :class:`Potential`, kept as an alias.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import sys
from typing import TYPE_CHECKING

from ..errors import EngineError
from .base import Potential

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Composition

__all__ = ["Engine", "Potential", "check_elements", "engine_name", "load_engine"]

log = logging.getLogger(__name__)

#: former name of :class:`Potential` (kept for compatibility)
Engine = Potential


def load_engine(spec: str = "chgnet", device: str | None = None) -> Potential:
    """Build the engine named by ``spec``: ``chgnet``, ``sevennet`` or ``module:factory``.

    ``device`` (``cpu``, ``cuda``) applies to the ML engines; default: the GPU when torch sees one.
    Raises :class:`EngineError` for an unknown spec or a factory that does not give an ASE calculator.
    """
    # the ML packages announce themselves with print(); on stderr, so that stdout stays the command's output
    # (``amorphdb validate --json``, ``predict --out -``)
    with contextlib.redirect_stdout(sys.stderr):
        engine = _build(spec, device)
    log.info("engine %s %s on %s", engine.name, engine.version, engine.device)
    return engine


def _build(spec: str, device: str | None) -> Potential:
    key = (spec or "").strip()
    if key.lower() == "chgnet":
        from .chgnet import load_chgnet

        engine = load_chgnet(device)
    elif key.lower() == "sevennet":
        from .sevennet import load_sevennet

        engine = load_sevennet(device)
    elif ":" in key:
        from .ase_factory import load_factory

        engine = load_factory(key)
    else:
        raise EngineError(f"unknown engine {spec!r}: use chgnet, sevennet or module:factory (an ASE calculator)")
    return engine


@functools.lru_cache(maxsize=None)
def engine_name(spec: str) -> str:
    """The name of the engine ``spec`` builds (``chgnet``, ...), as a run's source ``mlip-<name>`` uses it. The
    spec is checked by building the engine on the CPU once per process; later calls are free."""
    return load_engine(spec, device="cpu").name


def _covers(calculator: Calculator, symbol: str) -> bool:
    """Whether ``calculator`` gives a finite energy and forces for a dimer of ``symbol`` (2.5 Å apart)."""
    import numpy as np
    from ase import Atoms

    atoms = Atoms([symbol, symbol], positions=[[0, 0, 0], [2.5, 0, 0]], cell=[10, 10, 10], pbc=True)
    atoms.calc = calculator
    try:
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
    except Exception:  # calculators signal a missing parameter set with many exception types
        return False
    return math.isfinite(energy) and bool(np.isfinite(forces).all())


def check_elements(engine: Potential, composition: Composition | str) -> None:
    """Raise :class:`EngineError` naming the first element of ``composition`` the engine does not cover."""
    from ..composition import parse_formula

    comp = parse_formula(composition) if isinstance(composition, str) else composition
    for el in sorted(comp.elements, key=lambda e: e.Z):
        ok = el.symbol in engine.elements if engine.elements is not None else _covers(engine.calculator, el.symbol)
        if not ok:
            raise EngineError(f"engine {engine.name} does not cover element {el.symbol} (in {comp.reduced_formula})")
