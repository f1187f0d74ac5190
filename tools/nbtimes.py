"""pytest plugin: add up nbval's per-cell durations per notebook, write _build/notebook-times.json."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

TIMES_FILE = Path("_build/notebook-times.json")
_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Accumulate setup+call+teardown time of every nbval cell item under its notebook."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write {notebook: seconds} sorted by name."""
    if not _seconds:
        return
    TIMES_FILE.parent.mkdir(parents=True, exist_ok=True)
    times = {name: round(seconds, 2) for name, seconds in sorted(_seconds.items())}
    TIMES_FILE.write_text(json.dumps(times, indent=2) + "\n")
    width = max(len(name) for name in times)
    print("\nnotebook execution times (s):")
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds:6.1f}")
