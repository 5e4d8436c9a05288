"""Terminal tables that keep ids, numbers and values whole in 80 columns: only a column of
words (a product's name, a description) may wrap, and only between words."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text


def text_column(rows: Sequence[Sequence[str]]) -> int | None:
    """The column of words that may wrap: the one with the longest cells among those whose
    cells hold spaces (a name, a sentence); None when every column holds single tokens."""
    best, best_length = None, 0
    for index in range(max((len(row) for row in rows), default=0)):
        cells = [Text.from_markup(row[index]).plain for row in rows if index < len(row)]
        # A value such as "8,00 €" holds a space too: words are the longer cells. A column
        # that holds a long single token (an ePhoto number) is a column of values.
        if not any(" " in cell and len(cell) > 12 for cell in cells):
            continue
        if any(" " not in cell and len(cell) > 12 for cell in cells):
            continue
        length = max(len(cell) for cell in cells)
        if length > best_length:
            best, best_length = index, length
    return best


def whole_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], wrap: int | None = -1
) -> Table:
    """A table whose cells are never cut nor split, but those of column ``wrap`` (default:
    :func:`text_column`), which wraps between words and takes the width that is left."""
    chosen = text_column(rows) if wrap == -1 else wrap
    table = Table(title=title)
    for index, column in enumerate(columns):
        if index == chosen:
            table.add_column(column, ratio=1, overflow="fold")
        else:
            table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table
