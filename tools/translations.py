"""The translated editions' catalogs: refresh them from the English text, and check them.

    python tools/translations.py update            # re-extract the English messages, merge into locale/
    python tools/translations.py check [PO ...]    # every message translated, markup kept, terms used

A message is the text of one paragraph, heading, list item, table cell or caption of a page
(Sphinx's gettext builder). `update` marks a message whose English changed as fuzzy and keeps
its old translation for reference; `check` fails on it until the translation is redone.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale"
sys.path.insert(0, str(ROOT / "_ext"))
from book_i18n import EDITIONS  # noqa: E402  (the one list of editions, which the site uses too)

LANGUAGES = tuple(language for language in EDITIONS if language != "en")  # the translated ones
SAME_AS_SOURCE = "same-as-source"  # translator comment: the msgstr is the msgid on purpose

_CJK = re.compile(r"[\u3400-\u9fff]")
_ROLE = re.compile(r"\{([a-z:-]+)\}`([^`]*)`")
_CODE = re.compile(r"(?<![}`])`([^`]+)`(?!`)")
_MATH = re.compile(r"(?<![\\$])\$([^$]+)\$(?!\$)")
_LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_URL = re.compile(r"(?<![(<])https?://[^\s)>\]]+")
_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
_WORD = re.compile(r"[A-Za-z]{3,}")
_GLOSSARY_TERM = re.compile(r"^(\S[^\n(]*?)\s*\(([^)]*[\u3400-\u9fff][^)]*)\)\s*$", re.M)
# roles whose whole text must survive translation unchanged (keys, citation keys, equation labels)
_FIXED_ROLES = {"glue:text", "glue", "cite", "cite:p", "cite:t", "eq", "math"}
# roles whose target must survive but whose optional title `text <target>` may be translated
_TITLED_ROLES = {"term", "ref", "doc", "numref", "download"}


def glossary_terms(glossary: Path = ROOT / "book" / "glossary.md") -> dict[str, list[str]]:
    """Map each glossary heading "English (中文)" to its Chinese names (split at 、)."""
    text = glossary.read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    return {
        match.group(0).strip(): [name.strip() for name in re.split("[、，,]", match.group(2))]
        for match in _GLOSSARY_TERM.finditer(block)
    }


def _role_target(role: str, content: str) -> tuple[str, str]:
    if role in _TITLED_ROLES:
        titled = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content)
        return role, titled.group(2) if titled else content
    return role, content


def _markup(text: str) -> Counter:
    roles = [_role_target(role, content) for role, content in _ROLE.findall(text)]
    stripped = _ROLE.sub(" ", text)
    return Counter(
        roles
        + [("code", code) for code in _CODE.findall(stripped)]
        + [("math", math) for math in _MATH.findall(stripped)]
        + [("link", url) for url in _LINK_TARGET.findall(text)]
        + [("url", url) for url in _URL.findall(text)]
        + [("footnote", note) for note in _FOOTNOTE.findall(text)]
    )


def _prose(text: str) -> str:
    """The words a reader reads: the text without roles, code, math, links and URLs."""
    for pattern in (_ROLE, _CODE, _MATH, _URL, _LINK_TARGET):
        text = pattern.sub(" ", text)
    return text


def check_entry(entry: polib.POEntry, terms: dict[str, list[str]]) -> list[str]:
    """What is wrong with one catalog entry (empty when it is a complete, faithful translation)."""
    problems = []
    if entry.obsolete:
        return ["obsolete (its English is gone: delete it)"]
    if "fuzzy" in entry.flags:
        problems.append("fuzzy (the English changed: redo the translation, drop the flag)")
    if not entry.msgstr:
        return [*problems, "not translated"]
    if entry.msgstr == entry.msgid:
        if _WORD.search(_prose(entry.msgid)) and SAME_AS_SOURCE not in entry.tcomment:
            problems.append(f"identical to the English (add the comment '{SAME_AS_SOURCE}')")
        return problems
    if _WORD.search(_prose(entry.msgid)) and not _CJK.search(_prose(entry.msgstr)):
        problems.append("no Chinese in the translation")
    source, target = _markup(entry.msgid), _markup(entry.msgstr)
    for item in sorted((source - target).keys()):
        problems.append(f"markup lost: {item[0]} {item[1]!r}")
    for item in sorted((target - source).keys()):
        problems.append(f"markup added: {item[0]} {item[1]!r}")
    if entry.msgid.count("\n\n") != entry.msgstr.count("\n\n"):
        problems.append("paragraph breaks differ")
    for role, content in _ROLE.findall(entry.msgstr):
        titled = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content)
        if role == "term" and titled and titled.group(2) in terms:
            names = terms[titled.group(2)]
            if not any(name in titled.group(1) for name in names):
                problems.append(
                    f"glossary link {content!r}: its text should be {' or '.join(names)}"
                )
    return problems


def check_catalog(path: Path, terms: dict[str, list[str]]) -> list[str]:
    """Every problem of one .po file, one line each, naming the message."""
    catalog = polib.pofile(str(path))
    lines = []
    for entry in catalog:
        lines += [f"{path.name}: {entry.msgid[:60]!r}: {p}" for p in check_entry(entry, terms)]
    lines += [f"{path.name}: {e.msgid[:60]!r}: obsolete" for e in catalog.obsolete_entries()]
    return lines


def catalogs(language: str) -> list[Path]:
    """The .po files of one language, one per page."""
    return sorted((LOCALE / language / "LC_MESSAGES").rglob("*.po"))


def extract(output: Path) -> Path:
    """Run Sphinx's gettext builder on the book; return the folder of .pot templates."""
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        ".",
        "--builder",
        "custom",
    ]
    command += ["--custom-builder", "gettext", "--path-output", str(output)]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return output / "_build" / "gettext"


def update() -> None:
    """Refresh every language's catalogs from the English text (sphinx-intl merges them)."""
    with tempfile.TemporaryDirectory() as scratch:
        templates = extract(Path(scratch))
        for language in LANGUAGES:
            command = [sys.executable, "-m", "sphinx_intl", "update", "-p", str(templates)]
            command += ["-l", language, "-d", str(LOCALE), "-w", "0"]
            subprocess.run(command, cwd=ROOT, check=True)


def main() -> None:
    """Command line: `update` or `check [PO ...]`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["update", "check"])
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    if args.command == "update":
        update()
        return
    terms = glossary_terms()
    paths = args.files or [path for language in LANGUAGES for path in catalogs(language)]
    problems = [line for path in paths for line in check_catalog(path, terms)]
    print("\n".join(problems) or f"{len(paths)} catalogs: every message translated")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
