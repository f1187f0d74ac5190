"""A downloaded chapter runs outside the repository with only the attnbook wheel installed.

Builds the wheel (as `make dist` does), installs it into a fresh virtual environment that sees
the pinned dependencies but not this checkout, copies two chapters into an empty folder and runs
every cell there with nbval (outputs not compared: only errors and asserts can fail).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ["05_math_model.ipynb", "04_core_algorithm.ipynb"]


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_runs_downloaded_chapters(tmp_path: Path):
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ]
    )
    (wheel,) = dist.glob("attnbook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "attnbook/__init__.py" in names
    assert any(name.startswith("attnbook/results/") and name.endswith(".json") for name in names), (
        "the wheel does not ship the results the chapters read"
    )

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    # the pinned dependencies (torch, nbval, ...) come from the book's venv, attnbook does not
    site = Path(sysconfig.get_paths()["purelib"])
    fresh_site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    (fresh_site / "book-dependencies.pth").write_text(f"{site}\n")

    reader = tmp_path / "reader"
    reader.mkdir()
    for chapter in CHAPTERS:
        (reader / chapter).write_bytes((ROOT / "book" / chapter).read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    where = _run(
        [str(python), "-c", "import attnbook; print(attnbook.__file__)"], cwd=reader, env=env
    )
    assert str(venv) in where.stdout, f"attnbook came from {where.stdout.strip()}, not the wheel"
    # the committed results the chapters read come with the wheel
    loaded = _run(
        [
            str(python),
            "-c",
            "from attnbook import results; print(sorted(results.load('mtl.json')))",
        ],
        cwd=reader,
        env=env,
    )
    assert "config" in loaded.stdout or "results" in loaded.stdout, loaded.stdout
    _run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:randomly",
            "--rootdir",
            str(reader),
            *CHAPTERS,
        ],
        cwd=reader,
        env=env,
    )
