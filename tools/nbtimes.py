"""pytest plugin for the notebook passes of `make test`: per-notebook times, and a no-compare mode.

- Adds up nbval's per-cell durations per notebook and writes them as JSON to the file that
  `--notebook-times` names (default `_build/notebook-times.json`).
- `--nbval-no-compare` runs every cell and fails on any error (so every assert must hold) but
  compares no stored output: the pass that shifts every seed uses it, since another seed draws
  other data and other models, and only the asserts make claims about the method.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

DEFAULT_TIMES_FILE = "_build/notebook-times.json"
_seconds: dict[str, float] = defaultdict(float)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --notebook-times FILE and --nbval-no-compare."""
    group = parser.getgroup("attnbook notebooks")
    group.addoption("--notebook-times", default=DEFAULT_TIMES_FILE, help="JSON file of times")
    group.addoption(
        "--nbval-no-compare",
        action="store_true",
        help="run every notebook cell, compare no stored output (asserts still fail the run)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --nbval-no-compare, switch off output comparison on every nbval cell item."""
    if not config.getoption("nbval_no_compare"):
        return
    for item in items:
        options = getattr(item, "options", None)
        if item.nodeid.split("::", 1)[0].endswith(".ipynb") and options is not None:
            options["check"] = False


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Accumulate setup+call+teardown time of every nbval cell item under its notebook."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write {notebook: seconds} sorted by name, and print them (xdist: the controller only)."""
    if not _seconds or hasattr(session.config, "workerinput"):
        return
    times_file = Path(session.config.getoption("notebook_times"))
    times_file.parent.mkdir(parents=True, exist_ok=True)
    times = {name: round(seconds, 2) for name, seconds in sorted(_seconds.items())}
    times_file.write_text(json.dumps(times, indent=2) + "\n")
    width = max(len(name) for name in times)
    print(f"\nnotebook execution times (s), written to {times_file}:")
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds:6.1f}")
