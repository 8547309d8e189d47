"""Any ASE calculator as an engine, named by a ``module:factory`` spec (e.g. ``ase.calculators.emt:EMT``).

The factory is called without arguments; its element coverage is unknown, so it is probed per element.
"""

from __future__ import annotations

import importlib

from ..errors import EngineError
from .base import Potential, package_version


def load_factory(spec: str) -> Potential:
    """The :class:`Potential` of ``factory()`` from ``module:factory`` (runs on the CPU).

    Raises :class:`EngineError` when the module or factory is missing, the factory fails, or it does not
    return an ASE calculator.
    """
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
    return Potential(attr.lower(), f"{spec} ({top} {package_version(top)})", calc, None, "cpu")
