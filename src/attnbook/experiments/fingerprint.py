"""Fingerprints of the code behind committed results, so that a test can tell when they are stale.

Comments, docstrings and layout do not count; code does. An experiment lists the functions,
classes and modules that decide its numbers, not its command line or its file handling, so
that tidying those (or moving a function to another module) does not make its committed
results look stale, while any change to what they compute does.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import textwrap
from collections.abc import Sequence

__all__ = ["code_fingerprint", "code_only"]


def code_only(source: str) -> str:
    """The AST of a piece of source with every docstring removed, dumped as text."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _named_source(part: object) -> tuple[str, str]:
    """(name, source) of a module name, a module, a function or a class."""
    if isinstance(part, str):
        if importlib.util.find_spec(part) is None:
            raise ValueError(f"module {part!r} not found")
        return part, inspect.getsource(importlib.import_module(part))
    if inspect.ismodule(part):
        return part.__name__, inspect.getsource(part)
    if inspect.isfunction(part) or inspect.isclass(part):
        return part.__qualname__, inspect.getsource(part)
    raise TypeError(f"cannot fingerprint {part!r}: give a module (or its name), function or class")


def code_fingerprint(parts: Sequence[object]) -> str:
    """SHA-256 (first 16 hex digits) of the code of `parts`: module names, modules, functions, classes.

    A function or class is named by its qualified name only, not its module, so moving it
    between modules keeps the fingerprint.
    """
    if not parts:
        raise ValueError("nothing to fingerprint: parts is empty")
    digest = hashlib.sha256()
    for part in parts:
        name, source = _named_source(part)
        digest.update(name.encode() + b"\0")
        digest.update(code_only(source).encode() + b"\0")
    return digest.hexdigest()[:16]
