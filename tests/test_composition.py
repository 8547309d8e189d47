"""Formula parsing and scaling: exact stoichiometry, clear errors."""

import pytest

from amorphdb.composition import parse_formula, reduced_formula, scale_composition
from amorphdb.errors import InputError


def test_parse_and_reduce():
    comp = parse_formula("Li6P2S8")
    assert comp["Li"] == 6 and comp["P"] == 2 and comp["S"] == 8
    assert reduced_formula("Li6P2S8") == "Li3PS4"


@pytest.mark.parametrize(
    ("formula", "message"),
    [("", "empty formula"), ("   ", "empty formula"), ("Xx2O", "unknown element 'Xx'"),
     ("Li0.5O", "whole number"), ("li3PS4", "cannot parse"),
     ("Li2S0", "amount of S in 'Li2S0' must be positive, got 0"),  # pymatgen would drop the S
     ("Li(SO4)0", "amount of a group"), ("D2O", r"isotopes \(D, T\) .* write H")],  # pymatgen reads D as H
)
def test_bad_formulas_name_the_problem(formula, message):
    with pytest.raises(InputError, match=message):
        parse_formula(formula)


def test_scale_nearest_and_ceil_keep_stoichiometry():
    nearest = scale_composition("Li3PS4", 100)
    assert nearest.num_atoms == 96 and nearest.reduced_formula == "Li3PS4"
    ceil = scale_composition("Li3PS4", 100, mode="ceil")
    assert ceil.num_atoms == 104
    assert scale_composition("Li2O", 2).num_atoms == 3  # at least one formula unit


@pytest.mark.parametrize("n", [0, -5])
def test_scale_rejects_non_positive_atoms(n):
    with pytest.raises(InputError, match="at least 1"):
        scale_composition("Li2O", n)


def test_scale_rejects_formula_far_larger_than_cell():
    with pytest.raises(InputError, match="cannot be scaled"):
        scale_composition("Li20Si4P", 10)
