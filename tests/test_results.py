"""attnbook.results: the committed results ship in the package and load by name."""

from __future__ import annotations

import pytest

from attnbook import results


def test_every_shipped_result_loads_as_a_dict():
    names = results.available()
    assert {"depth_breadth.json", "mtl.json", "bench_full.json"} <= set(names)
    for name in names:
        assert isinstance(results.load(name), dict), name


def test_the_runs_write_into_the_package_by_default():
    from attnbook.experiments import depth_breadth, mtl

    assert depth_breadth.DEFAULT_OUT.parent == results.RESULTS_DIR
    assert mtl.DEFAULT_OUT.parent == results.RESULTS_DIR


@pytest.mark.parametrize(
    "name, error, words",
    [
        ("missing.json", FileNotFoundError, "shipped"),
        ("mtl", ValueError, "ending in .json"),
        ("../mtl.json", ValueError, "file name"),
        (3, ValueError, "file name"),
    ],
)
def test_bad_names_are_refused_clearly(name, error, words):
    with pytest.raises(error, match=words):
        results.load(name)
