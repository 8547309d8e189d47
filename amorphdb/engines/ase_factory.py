"""Any ASE calculator as an engine, named by a ``module:factory`` spec (e.g. ``ase.calculators.emt:EMT``).

The factory is called without arguments; its element coverage is unknown, so it is probed per element.
"""

from __future__ import annotations

import hashlib
import importlib

from ..errors import EngineError
from .base import Potential, package_version


def load_factory(spec: str) -> Potential:
    """The :class:`Potential` of ``factory()`` from ``module:factory`` (runs on the CPU).

    Raises :class:`EngineError` when the module or factory is missing, the factory fails, or it does not
    return an ASE calculator.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or module_name.startswith(".") or not attr.isidentifier():
        raise EngineError(f"cannot load engine {spec!r}: write module:factory with an absolute module name "
                          "(e.g. ase.calculators.emt:EMT)")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise EngineError(f"cannot load engine {spec!r}: {exc}") from None
    try:
        calc = factory()
    except Exception as exc:  # a user's factory may raise anything; report it in one line
        raise EngineError(f"engine factory {spec!r} failed: {exc}") from None
    if not (hasattr(calc, "get_potential_energy") and hasattr(calc, "get_forces")):
        raise EngineError(f"engine factory {spec!r} returned {type(calc).__name__}, not an ASE calculator")
    top = module_name.split(".")[0]
    return Potential(factory_name(spec), f"{spec} ({top} {package_version(top)})", calc, None, "cpu")


def factory_name(spec: str) -> str:
    """The engine name of ``module:factory`` (runs are stored as source ``mlip-<name>``): ASE's own calculators
    by the factory's name (``ase.calculators.emt:EMT`` is ``emt``); others with a hash of the whole spec as well,
    so that two modules' factories of one name (``a:make``, ``b:make``) never share runs."""
    module_name, _, attr = spec.partition(":")
    if module_name.startswith("ase.calculators."):
        return attr.lower()
    return f"{attr.lower()}-{hashlib.sha1(spec.encode()).hexdigest()[:6]}"
