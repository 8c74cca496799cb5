"""The report's GitHub tables: widths set by labels and formats, never by values (editing one run changes exactly
the lines of the rows that use it), and the cells kept for the LaTeX and CSV exports."""

from __future__ import annotations

from tabulate import tabulate

INCOMPLETE = "†"  # a row some of whose configured trials have not finished
MARKER_ROOM = len(f" {INCOMPLETE} n=10/10")  # room beside a label for that marker


class MarkdownTable(str):
    """A rendered GitHub table that keeps its cells: the LaTeX and CSV exports write the same ones."""

    headers: list[str]
    body: list[list[str]]


def markdown_table(headers, body, cell_width: int) -> str:
    """A GitHub table whose column widths depend on the labels and formats, never on the values.

    So editing one run changes exactly the lines of the rows that use it.
    """
    labels = [row[0].split(f" {INCOMPLETE} ")[0] for row in body]
    widths = [max([len(headers[0])] + [len(label) + MARKER_ROOM for label in labels])]
    widths += [max(len(h), cell_width if isinstance(cell_width, int) else cell_width[i]) for i, h in
               enumerate(headers[1:])]

    pad = lambda cells: [str(c).ljust(w) for c, w in zip(cells, widths)]  # noqa: E731
    table = MarkdownTable(tabulate([pad(row) for row in body], headers=pad(headers), tablefmt="github",
                                   disable_numparse=True, preserve_whitespace=True))
    table.headers, table.body = list(headers), [list(map(str, row)) for row in body]
    return table
