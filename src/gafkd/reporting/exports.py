"""Each table of tables.md also as LaTeX (booktabs) and CSV: the same cells, for papers and spreadsheets."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .markdown import MarkdownTable

# the markdown's emphasis of a mean (the notes' underlined bold), and LaTeX's for it
EMPHASIS = re.compile(r"<u>\*\*(.*?)\*\*</u>")
LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
LATEX_SYMBOLS = {"±": r"$\pm$", "Δ": r"$\Delta$", "α": r"$\alpha$", "λ": r"$\lambda$", "τ": r"$\tau$",
                 "β": r"$\beta$", "×": r"$\times$", "†": r"\dag{}", "—": "---", "−": "-", "χ": r"$\chi$"}


def plain(cell: str) -> str:
    """A cell as CSV writes it: the text, without the markdown emphasis or padding."""
    return EMPHASIS.sub(r"\1", cell).strip()


def latex(cell: str) -> str:
    text = "".join(LATEX_SPECIAL.get(c, c) for c in plain(cell))
    text = "".join(LATEX_SYMBOLS.get(c, c) for c in text)
    emphasised = EMPHASIS.search(cell)
    return rf"\underline{{\textbf{{{text}}}}}" if emphasised else text


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_exports(collected: list[tuple[str, str, MarkdownTable]], directory) -> list[str]:
    """``<section>--<title>.csv`` and ``.tex`` per table, written into a fresh folder that then replaces
    ``directory`` (so a stopped report never leaves a mix of old and new tables)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    names = []
    for section, title, table in collected:
        name = f"{slug(section)}--{slug(title.split(' (')[0])}"  # the title less its parenthesis
        name += f"-{names.count(name) + 1}" if name in names else ""
        frame = pd.DataFrame([[plain(c) for c in row] for row in table.body], columns=[plain(h) for h in table.headers])
        frame.to_csv(staging / f"{name}.csv", index=False)
        tex = pd.DataFrame([[latex(c) for c in row] for row in table.body], columns=[latex(h) for h in table.headers])
        (staging / f"{name}.tex").write_text(tex.to_latex(
            index=False, escape=False, column_format="l" + "r" * (len(table.headers) - 1),
            caption=latex(f"{section}: {title}"), label=f"tab:{name}"))
        names.append(name)
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)
    return names
