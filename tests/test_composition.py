"""Formula parsing and scaling: exact stoichiometry, clear errors."""

import pytest
from pymatgen.core import Element

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
     ("Li(SO4)0", "amount of a group"), ("D2O", r"isotopes \(D, T\) .* write H"),  # pymatgen reads D as H
     # pymatgen drops an amount below 1e-8, or a group in [ ] or { } with amount 0, and returned pure Li
     ("Li2[SO4]0", "amount of a group in 'Li2\\[SO4\\]0' must be positive"), ("Li2{PO4}0", "amount of a group"),
     ("LiO0.000000001", "amount of O in 'LiO0.000000001' must be positive"), ("LiO1e-20", "amount of O .* positive"),
     ("Li2O-0", "amount of O in 'Li2O-0' must be positive, got 0"), ("LiO0.0000001", "amount of O"),
     ("Li2O1.00001", "amount of O .* whole number, got 1.00001")],
)
def test_bad_formulas_name_the_problem(formula, message):
    with pytest.raises(InputError, match=message):
        parse_formula(formula)


@pytest.mark.parametrize("formula", ["Li2O1.000000001", "Li2O0.9999999", "Li2.0000003O"])
def test_amounts_within_1e6_of_a_whole_number_are_that_number(formula):
    comp = parse_formula(formula)
    assert dict(comp) == {Element("Li"): 2.0, Element("O"): 1.0}
    scaled = scale_composition(formula, 100, mode="ceil")
    assert scaled["Li"] == 68 and scaled["O"] == 34 and scaled.formula == "Li68 O34"  # not O34.00000003


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
