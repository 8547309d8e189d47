"""Compositions: parse and validate a formula, scale it to a cell of about N atoms.

The first step of the data flow (composition → structure → MD runs → analysis → database → models).
Built on pymatgen's ``Composition``; this module only adds the checks and the one-line errors users see.
"""

from __future__ import annotations

import math
import re

from pymatgen.core import Composition, Element

from .errors import InputError, first_line


def parse_formula(formula: str) -> Composition:
    """Parse ``formula`` (e.g. ``"Li3PS4"``) into a pymatgen Composition with integer amounts.

    Raises :class:`InputError` for an empty formula, an unknown element, a non-positive or fractional amount.
    """
    text = (formula or "").strip()
    if not text:
        raise InputError("empty formula")
    # what pymatgen accepts silently: an amount of 0 (it drops the element) and the isotopes D and T (read as H)
    for symbol, amount in re.findall(r"([A-Z][a-z]?|\))\s*(\d*\.?\d+)", text):
        if float(amount) == 0:
            raise InputError(f"amount of {symbol if symbol != ')' else 'a group'} in {formula!r} must be "
                             f"positive, got {amount}")
    if {"D", "T"} & set(re.findall(r"[A-Z][a-z]?", text)):
        raise InputError(f"isotopes (D, T) in {formula!r} are not supported: write H")
    try:
        comp = Composition(text)
    except Exception as exc:  # pymatgen raises ValueError/KeyError/CompositionError with long messages
        raise InputError(f"cannot parse formula {formula!r}: {first_line(exc)}") from None
    for el, amount in comp.items():
        if not isinstance(el, Element) or not Element.is_valid_symbol(str(el)) or el.Z > 118:
            raise InputError(f"unknown element {getattr(el, 'symbol', str(el))!r} in formula {formula!r}")
        if amount <= 0:
            raise InputError(f"amount of {el} in {formula!r} must be positive, got {amount:g}")
        if abs(amount - round(amount)) > 1e-8:
            raise InputError(f"amount of {el} in {formula!r} must be a whole number, got {amount:g}")
    if comp.num_atoms == 0:
        raise InputError(f"formula {formula!r} has no atoms")
    return comp


def reduced_formula(formula: str) -> str:
    """The reduced formula as pymatgen writes it (``"Li6P2S8"`` → ``"Li3PS4"``): the database key."""
    return parse_formula(formula).reduced_formula


def scale_composition(formula: str, n_atoms: int, mode: str = "nearest") -> Composition:
    """The formula unit repeated so that the cell holds about ``n_atoms`` atoms, stoichiometry exact.

    ``mode="nearest"`` takes the multiple of the formula unit nearest to ``n_atoms`` (at least one unit);
    ``mode="ceil"`` takes the smallest multiple with at least ``n_atoms`` atoms (the reference MPMorph rule).
    """
    if n_atoms is None or n_atoms < 1:
        raise InputError(f"number of atoms must be at least 1, got {n_atoms}")
    unit = parse_formula(formula).reduced_composition
    per_unit = int(round(unit.num_atoms))
    if per_unit > n_atoms * 2:
        raise InputError(
            f"formula {formula!r} has {per_unit} atoms per formula unit: it cannot be scaled to about {n_atoms} atoms"
        )
    if mode == "ceil":
        repeats = math.ceil(n_atoms / per_unit)
    elif mode == "nearest":
        repeats = max(1, round(n_atoms / per_unit))
    else:
        raise InputError(f"unknown scaling mode {mode!r} (use 'nearest' or 'ceil')")
    return unit * repeats
