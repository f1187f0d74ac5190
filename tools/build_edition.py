"""Build one language edition of the book: `python tools/build_edition.py zh_CN` → _build/html/zh_CN."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from jupyter_book.sphinx import build_sphinx

ROOT = Path(__file__).resolve().parents[1]
# What differs per edition besides the catalogs: the site title and the few interface words
# that come from extensions without a Chinese translation of their own.
EDITION_CONFIG = {
    "zh_CN": {
        "html_title": "注意力的深度与广度",
        "nb_code_prompt_show": "显示代码",
        "nb_code_prompt_hide": "隐藏代码",
        "togglebutton_hint": "点击展开",
        "togglebutton_hint_hide": "点击收起",
    },
}


def build(language: str, *, output: Path) -> int:
    """Render the committed notebooks with the catalogs in locale/<language> into `output`.

    Sphinx builds into _build/editions/<language>/html first: MyST-NB writes its notebook
    outputs beside the build folder (its parent's jupyter_execute/), which must not land inside
    the English site; the finished site is then moved to `output`.
    """
    staging = ROOT / "_build" / "editions" / language
    shutil.rmtree(staging, ignore_errors=True)
    overrides = {
        "language": language,
        **EDITION_CONFIG[language],
        "external_toc_path": "_toc.yml",
        "nitpicky": True,
        "latex_individualpages": False,
    }
    status = build_sphinx(
        ROOT,
        staging / "html",
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=overrides,
        doctreedir=ROOT / "_build" / f".doctrees-{language}",
        warningiserror=True,
        keep_going=True,
        freshenv=True,
        quiet=True,
    )
    if status == 0:
        shutil.rmtree(output, ignore_errors=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / "html", output)
    return status


def main() -> None:
    """Command line: the language code, and where the site goes (default _build/html/<language>)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("language", choices=sorted(EDITION_CONFIG))
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    output = args.output or ROOT / "_build" / "html" / args.language
    sys.exit(build(args.language, output=output))


if __name__ == "__main__":
    main()
