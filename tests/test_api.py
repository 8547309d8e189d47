"""The public API of ``amorphdb``: every exported name imports, entry points come before helpers."""

import importlib
import importlib.util

import pytest

import amorphdb


@pytest.mark.parametrize("name", sorted(amorphdb._EXPORTS))
def test_every_exported_name_imports(name):
    module = importlib.import_module(f"amorphdb.{amorphdb._EXPORTS[name]}")
    assert amorphdb.__getattr__(name) is getattr(module, name)


def test_no_exported_name_is_shadowed_by_a_submodule():
    assert [name for name in amorphdb._EXPORTS if importlib.util.find_spec(f"amorphdb.{name}")] == []


def test_entry_points_come_first_and_are_documented():
    entry_points = list(amorphdb._ENTRY_POINTS)
    assert amorphdb.__all__[1:1 + len(entry_points)] == entry_points
    assert not set(entry_points) & set(amorphdb._HELPERS)
    assert all(f"``{name}``" in amorphdb.__doc__ for name in entry_points)


def test_dir_lists_every_public_name_and_unknown_names_raise():
    assert set(amorphdb.__all__) <= set(dir(amorphdb))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        amorphdb.no_such_name
