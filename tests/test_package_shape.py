"""The package reads like its CONTRIBUTING says: short functions, each with a docstring."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "attnbook"
MAX_BODY_LINES = 60  # CONTRIBUTING, "Package layout": a longer function is split into steps


def _functions(*, api_only: bool = False) -> list[tuple[str, ast.FunctionDef]]:
    """(module path: qualified name, node) of every function and method in the package.

    With api_only: only public functions of modules and public methods of public classes.
    """
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stack: list[tuple[ast.AST, str, bool]] = [(tree, "", True)]
        while stack:
            node, prefix, public = stack.pop()
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                name = f"{prefix}{child.name}"
                is_public = public and not child.name.startswith("_")
                if not isinstance(child, ast.ClassDef) and (is_public or not api_only):
                    found.append((f"{path.relative_to(PACKAGE)}: {name}", child))
                # what a function defines inside itself is not API
                inside_public = is_public and isinstance(child, ast.ClassDef)
                stack.append((child, f"{name}.", inside_public))
    return found


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body after its signature and docstring."""
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return node.end_lineno - body[0].lineno + 1


def test_the_walk_finds_the_package() -> None:
    names = [name for name, _ in _functions()]
    assert "attention.py: scaled_dot_product_attention" in names
    assert "mtl.py: _Run.step" in names


def test_no_function_body_is_longer_than_60_lines() -> None:
    long = {
        name: _body_lines(node) for name, node in _functions() if _body_lines(node) > MAX_BODY_LINES
    }
    assert not long, f"split these into named steps (body lines): {long}"


@pytest.mark.parametrize("kind", ["public functions", "modules"])
def test_everything_public_has_a_docstring(kind: str) -> None:
    if kind == "modules":
        missing = [
            str(path.relative_to(PACKAGE))
            for path in sorted(PACKAGE.rglob("*.py"))
            if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None
        ]
    else:
        missing = [
            name for name, node in _functions(api_only=True) if ast.get_docstring(node) is None
        ]
    assert not missing, f"{kind} without a docstring: {missing}"


def _layout_table_names() -> list[str]:
    """The backticked names in the first column of CONTRIBUTING's "Package layout" table."""
    text = (PACKAGE.parents[1] / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.split(" | ")[0])]


def test_the_layout_table_names_every_module_and_nothing_else() -> None:
    """Each top-level module and sub-package of attnbook has a row, and each row exists."""
    names = _layout_table_names()
    folders = {name.split("/")[0] for name in names if "/" in name}
    modules = {name for name in names if "/" not in name}
    present_modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    present_folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert present_modules - modules == set(), "modules missing from CONTRIBUTING's table"
    assert present_folders - folders - modules == set(), "packages missing from the table"
    # a folder's row may name its modules (`rl/` (`envs`, `policy_gradient`)): they live inside it
    inside = {p.stem for folder in present_folders for p in (PACKAGE / folder).glob("*.py")}
    unknown = modules - present_modules - present_folders - inside
    assert unknown == set(), "the table names modules that do not exist"
    assert folders - present_folders == set(), "the table names packages that do not exist"
