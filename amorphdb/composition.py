"""Compositions: parse and validate a formula, scale it to a cell of about N atoms.

The first step of the data flow (composition → structure → MD runs → analysis → database → models).
Built on pymatgen's ``Composition``; this module only adds the checks and the one-line errors users see.
"""

from __future__ import annotations

import math
import re

from pymatgen.core import Composition, Element

from .errors import InputError, first_line


#: An amount within this of a whole number is that number: ``Li2O1.000000001`` is Li2O; ``LiO1e-9`` is refused.
WHOLE_TOLERANCE = 1e-6
#: An element symbol as pymatgen reads it, and an amount written after an element or a closing bracket.
_SYMBOL = re.compile(r"[A-Z][a-z]*")
_AMOUNT = re.compile(r"([A-Z][a-z]*|[)\]}])\s*(\d*\.?\d+(?:e-?\d+)?)")


def parse_formula(formula: str) -> Composition:
    """Parse ``formula`` (e.g. ``"Li3PS4"``, ``"Li3Fe2(PO4)3"``) into a pymatgen Composition with integer amounts.

    Groups may be written with ( ), [ ] or { }. Every amount, after groups are multiplied out, must be a positive
    whole number of atoms; one within :data:`WHOLE_TOLERANCE` (1e-6) of a whole number is taken as that number
    (a formula written from floats: ``Li2O1.000000001`` is Li2O, exactly), so an amount that close to 0 is refused.
    Raises :class:`InputError` for an empty formula, an unknown element, an isotope (D, T), an element or group
    whose amount is 0 or not whole.
    """
    text = (formula or "").strip()
    if not text:
        raise InputError("empty formula")
    # what pymatgen accepts silently: D and T (read as H), an amount of 0 or below 1e-8 (it drops the element)
    written = list(dict.fromkeys(_SYMBOL.findall(text)))
    if {"D", "T"} & set(written):
        raise InputError(f"isotopes (D, T) in {formula!r} are not supported: write H")
    unknown = [s for s in written if not Element.is_valid_symbol(s) or Element(s).Z > 118]
    if unknown:
        raise InputError(f"unknown element {unknown[0]!r} in formula {formula!r}")
    for symbol, amount in _AMOUNT.findall(text):
        if float(amount) <= WHOLE_TOLERANCE:
            raise InputError(f"amount of {symbol if symbol.isalpha() else 'a group'} in {formula!r} must be "
                             f"positive, got {amount}{' ≈ 0' if float(amount) else ''}")
    try:
        comp = Composition(text)
    except Exception as exc:  # pymatgen raises ValueError/KeyError/CompositionError with long messages
        raise InputError(f"cannot parse formula {formula!r}: {first_line(exc)}") from None
    amounts: dict[Element, float] = {}
    for symbol in written:  # every element written, also one pymatgen dropped (a negative zero, a tiny amount)
        amount = comp[symbol]
        if abs(amount - round(amount)) > WHOLE_TOLERANCE:
            raise InputError(f"amount of {symbol} in {formula!r} must be a whole number, got {amount:g}")
        if round(amount) < 1:
            raise InputError(f"amount of {symbol} in {formula!r} must be positive, got {amount:g}")
        amounts[Element(symbol)] = float(round(amount))
    if not amounts:
        raise InputError(f"formula {formula!r} has no atoms")
    return Composition(amounts)


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
