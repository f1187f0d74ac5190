"""attnbook.experiments.fingerprint: code counts, docstrings, comments and the module do not."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from attnbook.experiments.fingerprint import code_fingerprint, code_only


def _module(tmp_path, monkeypatch, name: str, source: str):
    """Write and import a throw-away module `name` with `source`."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_a_function_keeps_its_fingerprint_when_it_moves_or_its_docs_change(tmp_path, monkeypatch):
    first = _module(tmp_path, monkeypatch, "fp_a", "def f(x):\n    return x + 1\n")
    moved = _module(
        tmp_path,
        monkeypatch,
        "fp_b",
        '''
        import math  # another module, other neighbours


        def f(x):
            """Now documented."""
            return x + 1  # and commented
        ''',
    )
    assert code_fingerprint([first.f]) == code_fingerprint([moved.f])
    changed = _module(tmp_path, monkeypatch, "fp_c", "def f(x):\n    return x + 2\n")
    assert code_fingerprint([changed.f]) != code_fingerprint([first.f])


def test_parts_are_ordered_and_named(tmp_path, monkeypatch):
    mod = _module(tmp_path, monkeypatch, "fp_d", "def f():\n    pass\n\n\ndef g():\n    pass\n")
    assert code_fingerprint([mod.f, mod.g]) != code_fingerprint([mod.g, mod.f])
    assert code_fingerprint([mod.f]) != code_fingerprint([mod.g])  # same body, other name
    assert code_fingerprint(["fp_d"]) == code_fingerprint([mod])
    assert len(code_fingerprint([mod])) == 16


@pytest.mark.parametrize(
    ("parts", "error", "match"),
    [
        ([], ValueError, "empty"),
        (["attnbook.no_such_module"], ValueError, "not found"),
        ([42], TypeError, "cannot fingerprint 42"),
    ],
)
def test_bad_parts_are_named(parts, error, match):
    with pytest.raises(error, match=match):
        code_fingerprint(parts)


def test_code_only_ignores_docstrings_and_layout_only() -> None:
    documented = code_only('def f(x):\n    """Doc."""\n    return x + 1  # c\n')
    wrapped = code_only("def f(x):\n    return (x +\n            1)\n")
    other = code_only("def f(x):\n    return x + 2\n")
    assert documented == wrapped != other
