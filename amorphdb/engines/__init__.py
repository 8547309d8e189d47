"""Energy/force engines behind one interface: CHGNet (default), SevenNet, or any ASE calculator.

An :class:`Engine` is an ASE calculator plus what the database records about it (name, version) and the
elements it covers. :func:`load_engine` builds one from a short spec: ``chgnet`` (weights ship in the
``chgnet`` wheel), ``sevennet`` (the ``7net-0`` weights ship in the ``sevenn`` wheel), or ``module:factory``
for any callable returning an ASE calculator (e.g. ``ase.calculators.emt:EMT``). The ML engines run on the
GPU when torch sees one. :func:`check_elements` refuses a composition with an uncovered element before any MD.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers, chemical_symbols
from pymatgen.core import Composition

from ..composition import parse_formula
from ..errors import EngineError

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """An ASE calculator with its provenance: ``name`` and ``version`` go into every run's database row
    (for ``module:factory`` the name is the factory's, lower case, and the version names the spec).

    ``elements`` is the set of element symbols the engine covers, or ``None`` when unknown (then
    :func:`check_elements` probes each element with a two-atom cell).
    """

    name: str
    version: str
    calculator: Calculator
    elements: frozenset[str] | None
    device: str = "cpu"


def _device(device: str | None) -> str:
    """``device`` checked against what torch sees (``cpu``, ``cuda``, ``cuda:N``); default: the GPU if any."""
    import torch

    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not (device == "cuda" or device.startswith("cuda:")):
        raise EngineError(f"unknown device {device!r}: use cpu or cuda (cuda:N for the N-th GPU)")
    if device != "cpu" and not torch.cuda.is_available():
        raise EngineError(f"device {device} asked for, but torch sees no GPU here: use --device cpu or leave it out")
    return device


def _pkg_version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _chgnet(device: str | None) -> Engine:
    dev = _device(device)
    from chgnet.model.dynamics import CHGNetCalculator

    calc = CHGNetCalculator(use_device=dev, on_isolated_atoms="ignore")
    n_el = calc.model.atom_embedding.embedding.num_embeddings  # elements 1..94
    model_version = getattr(calc.model, "version", None) or "?"
    return Engine("chgnet", f"{_pkg_version('chgnet')} (model {model_version})", calc,
                  frozenset(chemical_symbols[1:n_el + 1]), dev)


def _sevennet(device: str | None) -> Engine:
    dev = _device(device)
    from sevenn.calculator import SevenNetCalculator

    calc = SevenNetCalculator("7net-0", device=dev)
    covered = frozenset(chemical_symbols[z] for z in calc.type_map)
    return Engine("sevennet", f"{_pkg_version('sevenn')} (model 7net-0)", calc, covered, dev)


_BUILTIN: dict[str, Callable[[str | None], Engine]] = {"chgnet": _chgnet, "sevennet": _sevennet}


def load_engine(spec: str = "chgnet", device: str | None = None) -> Engine:
    """Build the engine named by ``spec``: ``chgnet``, ``sevennet`` or ``module:factory``.

    ``device`` (``cpu``, ``cuda``) applies to the ML engines; default: the GPU when torch sees one.
    Raises :class:`EngineError` for an unknown spec or a factory that does not give an ASE calculator.
    """
    key = (spec or "").strip()
    if key.lower() in _BUILTIN:
        engine = _BUILTIN[key.lower()](device)
    elif ":" in key:
        engine = _from_factory(key)
    else:
        raise EngineError(f"unknown engine {spec!r}: use chgnet, sevennet or module:factory (an ASE calculator)")
    log.info("engine %s %s on %s", engine.name, engine.version, engine.device)
    return engine


def _from_factory(spec: str) -> Engine:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise EngineError(f"cannot load engine {spec!r}: {exc}") from None
    try:
        calc = factory()
    except Exception as exc:  # a user's factory may raise anything; report it in one line
        raise EngineError(f"engine factory {spec!r} failed: {exc}") from None
    if not (hasattr(calc, "get_potential_energy") and hasattr(calc, "get_forces")):
        raise EngineError(f"engine factory {spec!r} returned {type(calc).__name__}, not an ASE calculator")
    top = module_name.split(".")[0]
    return Engine(attr.lower(), f"{spec} ({top} {_pkg_version(top)})", calc, None, "cpu")


def _covers(calculator: Calculator, symbol: str) -> bool:
    """Whether ``calculator`` gives a finite energy and forces for a dimer of ``symbol`` (2.5 Å apart)."""
    atoms = Atoms([symbol, symbol], positions=[[0, 0, 0], [2.5, 0, 0]], cell=[10, 10, 10], pbc=True)
    atoms.calc = calculator
    try:
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
    except Exception:  # calculators signal a missing parameter set with many exception types
        return False
    return math.isfinite(energy) and bool(np.isfinite(forces).all())


def check_elements(engine: Engine, composition: Composition | str) -> None:
    """Raise :class:`EngineError` naming the first element of ``composition`` the engine does not cover."""
    comp = parse_formula(composition) if isinstance(composition, str) else composition
    for el in sorted(comp.elements, key=lambda e: atomic_numbers[e.symbol]):
        ok = el.symbol in engine.elements if engine.elements is not None else _covers(engine.calculator, el.symbol)
        if not ok:
            raise EngineError(f"engine {engine.name} does not cover element {el.symbol} (in {comp.reduced_formula})")
