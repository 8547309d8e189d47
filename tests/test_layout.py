"""The layout's import rule (docs/architecture.md): imports run down the data flow only, and across packages
they name the module that defines what they import, so that the CLI and ``import amorphdb`` stay light."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "amorphdb"
FOUNDATION = {"units", "errors", "paths", "data", "composition"}
# package or top-level module -> what it may import besides itself (imports under TYPE_CHECKING excepted)
ALLOWED: dict[str, set[str]] = {
    "units": set(), "errors": {"units"}, "paths": {"units", "errors"}, "data": {"units", "errors", "paths"},
    "composition": FOUNDATION - {"composition"},
    "structure": FOUNDATION,
    "engines": FOUNDATION | {"structure"},
    "md": FOUNDATION | {"structure", "engines"},
    "protocol": FOUNDATION | {"structure", "engines", "md"},
    "analysis": FOUNDATION | {"structure"},
    "database": FOUNDATION | {"structure", "analysis"},
    "learning": FOUNDATION | {"structure", "analysis", "database"},
    "reports": FOUNDATION | {"structure", "analysis", "database", "learning"},
    "workflows": FOUNDATION | {"structure", "engines", "md", "protocol", "analysis", "database", "learning",
                               "reports"},
    "web": FOUNDATION | {"structure", "analysis", "database", "learning", "reports"},
    "cli": FOUNDATION | {"structure", "engines", "md", "protocol", "analysis", "database", "learning", "reports",
                         "workflows", "web"},
    "__main__": {"cli"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    """Every import statement except those under ``if TYPE_CHECKING:``."""
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
               for n in ast.walk(node)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped]


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) of each amorphdb import of a file; name None for ``import amorphdb.x``."""
    module, is_package = _module_name(path), path.name == "__init__.py"
    out = []
    for node in _runtime_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "amorphdb"]
            continue
        if node.level:
            base = module.split(".")[: len(module.split(".")) - node.level + is_package]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] == "amorphdb":
            out += [(target, a.name) for a in node.names]
    return out


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else "amorphdb"


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a module body, with those inside top-level ``try`` and ``if`` blocks."""
    out = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.Try | ast.If):
            out += _top_level(node.body + node.orelse + [s for h in getattr(node, "handlers", []) for s in h.body])
    return out


def _defines(module: str, name: str) -> bool:
    """Whether ``name`` is defined in ``module`` (not merely imported there: an import that renames counts as a
    definition), or is a submodule of it."""
    base = PACKAGE.parent.joinpath(*module.split("."))
    if (base / name).is_dir() or (base / f"{name}.py").is_file():
        return True
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    for node in _top_level(ast.parse(path.read_text()).body):
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(node, ast.ImportFrom) and any(a.asname == name != a.name for a in node.names):
            return True
    return False


FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_flow(path):
    stage = _stage(_module_name(path))
    if stage == "amorphdb":  # the lazy public API may name every module
        return
    assert stage in ALLOWED, f"new package {stage}: give it a place in ALLOWED and in docs/architecture.md"
    wrong = sorted({m for m, n in _imports(path)
                    if _stage(m) not in ALLOWED[stage] | {stage} and (m, n) != ("amorphdb", "__version__")})
    assert not wrong, f"{stage} may not import {wrong}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_across_packages_name_the_defining_module(path):
    stage = _stage(_module_name(path))
    if stage == "amorphdb":
        return
    wrong = sorted(f"from {m} import {n}" for m, n in _imports(path)
                   if n is not None and _stage(m) != stage and not _defines(m, n))
    assert not wrong, f"import from the module that defines the name: {wrong}"
