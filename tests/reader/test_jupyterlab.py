"""`make lab` works as a reader uses it: JupyterLab loads, a chapter opens, every cell runs.

Starts the venv's JupyterLab on 127.0.0.1 (as `make lab` does) over a copy of one chapter, so
nothing the browser runs is written back into book/, and drives it with the system Chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.print_pdf import CHROMIUM_FLAGS
from tools.print_pdf import chromium_path as _chromium

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "05_math_model.ipynb"
TOKEN = "attnbook-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[str]:
    """JupyterLab from the venv on a free localhost port, rooted at a copy of one chapter."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "book" / CHAPTER, root / CHAPTER)
    home = tmp_path_factory.mktemp("jupyter-home")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    port = _free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={TOKEN}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:  # CI runs as root
        command.append("--allow-root")
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                raise RuntimeError((home / "lab.log").read_text()) from None
            time.sleep(0.5)
    else:
        server.terminate()
        raise RuntimeError("JupyterLab did not start in 240 s:\n" + (home / "lab.log").read_text())
    yield base
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_a_chapter_runs_in_jupyterlab(lab: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(f"{lab}/lab/tree/{CHAPTER}?token={TOKEN}", wait_until="load")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        # the kernel starts by itself (the chapter names python3, the venv's kernel)
        page.wait_for_function(
            "() => { const k = document.querySelector('.jp-Toolbar-kernelName');"
            " return k && !/No Kernel|Loading/.test(k.textContent); }",
            timeout=120_000,
        )
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        kernel = page.locator(".jp-Toolbar-kernelName").first.inner_text()
        assert "attnbook" in kernel or "Python 3" in kernel, f"unexpected kernel {kernel!r}"
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.locator("div.lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li.lm-Menu-item", has_text="Run All Cells").first.click()
        page.wait_for_function(
            "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
            " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }",
            timeout=240_000,
        )
        errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']").count()
        tracebacks = page.locator(".jp-RenderedText:has-text('Traceback')").count()
        outputs = page.locator(".jp-OutputArea-output").count()
        page.screenshot(path=str(ROOT / "_build" / "jupyterlab.png"))
        browser.close()
    assert errors == 0 and tracebacks == 0, f"{errors} error outputs, {tracebacks} tracebacks"
    assert outputs > 0, "no cell produced an output"
