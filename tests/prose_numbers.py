"""Find the numbers in a chapter's prose that a reader would take for a measured result.

A number in a markdown cell must come from the run, through myst-nb's `{glue:text}` role, unless
it is a constant of the set-up. What counts as "looks measured" here: a decimal (0.94, 7.07), a
percentage (12 %), a power of ten (6e-5, 10⁻³) or a ratio (3.4×). Integers are left alone: they
are counts, sizes, years and section numbers of the set-up far more often than results.
Skipped: math ($…$, $$…$$), inline code, glue/cite/ref roles, link targets, headings, directive
option lines, and section references such as "§5.3", "section 2.1" or "chapter 9.2".
"""

from __future__ import annotations

import re

_FENCED = re.compile(r"^(```+|~~~+).*?^\1\s*$", re.S | re.M)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$")
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_CODE = re.compile(r"``?[^`\n]+?``?")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_SECTION_REF = re.compile(
    r"(§\s*|\b(?:[Ss]ections?|[Cc]hapters?|[Ss]ec\.|FAQ|[Tt]ables?|[Ff]igures?|[Ee]q\.|"
    r"[Vv]ersions?|v|Python|PyTorch|torch|MathJax|Mermaid|article's|[Pp]art)\s+)\d+(?:\.\d+)+[a-z]?"
)
MEASURED = re.compile(
    r"(?<![\w.\-])(?:\d+(?:[.,]\d+)*\s?%|\d+\.\d+(?:\s?×)?|\d+(?:\.\d+)?e[−-]?\d+|"
    r"10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+|\d+(?:\.\d+)?\s?×(?!\s?\d))(?![\w.])"
)


def _strip_directive_options(text: str) -> str:
    """Drop heading lines and `:option:` lines of directives."""
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or re.match(r"^:[\w-]+:", stripped):
            continue
        kept.append(line)
    return "\n".join(kept)


def prose_only(markdown: str) -> str:
    """The markdown with math, code, roles, link targets, headings and section references removed."""
    text = markdown
    # keep the body of admonition-like fences ({exercise}, {note}); drop code and mermaid fences
    text = re.sub(
        r"^```+\s*(?:python|py|text|bash|mermaid|console|\{code-cell\}).*?^```+\s*$",
        " ",
        text,
        flags=re.S | re.M,
    )
    text = re.sub(r"^```+.*$", " ", text, flags=re.M)
    text = _DISPLAY_MATH.sub(" ", text)
    text = re.sub(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", " ", text, flags=re.S)
    text = _INLINE_MATH.sub(" ", text)
    text = _ROLE.sub(" ", text)
    text = _CODE.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = _strip_directive_options(text)
    text = _SECTION_REF.sub(" ", text)
    # the article's section numbers: "(1.1)", "(also 1.3 and 2.3)", "**2.1**", "question 10.2"
    text = re.sub(r"\((?:also\s+)?\d+\.\d(?:\s*(?:and|,)\s*\d+\.\d)*\)", " ", text)
    text = re.sub(r"\*\*\d+\.\d\*\*", " ", text)
    text = re.sub(r"(?:question|article's)\s+\d+\.\d(?!\d)", " ", text)
    return text


def measured_numbers(markdown: str) -> list[str]:
    """Every number in the prose that looks like a result rather than a constant."""
    return [match.group(0).strip() for match in MEASURED.finditer(prose_only(markdown))]
