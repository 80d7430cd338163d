"""Results as tables. A fixed-width ``print`` loses its last columns in the book's
narrow code box; a DataFrame that ends a cell (or goes through ``display``) is
typeset as an HTML table that fits the column. pandas only; every function
returns a DataFrame.
"""

from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = ["table"]


def table(rows: Sequence[Sequence[object]], columns: Sequence[str],
          digits: int | Mapping[str, int] | None = None) -> pd.DataFrame:
    """A results table: one row per sequence in ``rows``, its values in the order of
    ``columns``. The first column labels the rows (it becomes the index) and its name
    heads that column, so the rendered table has a single header row. Float columns
    are rounded to ``digits`` decimals: one int for all, or ``{column: int}`` for
    the columns it names (the others are left as they are); ``None`` rounds nothing.

    >>> table([("PCA", 0.04567), ("AE", 0.0312)], ["model", "test MSE"], digits=3)
    model  test MSE
    PCA       0.046
    AE        0.031
    """
    columns = list(columns)
    if len(columns) < 2:
        raise ValueError("a table needs a column of row labels and at least one of values")
    widths = {len(row) for row in rows}
    if widths - {len(columns)}:
        raise ValueError(f"every row needs {len(columns)} values ({', '.join(columns)}); "
                         f"got rows of {sorted(widths)}")
    if isinstance(digits, Mapping) and set(digits) - set(columns[1:]):
        raise ValueError(f"digits names columns the table does not have: "
                         f"{sorted(set(digits) - set(columns[1:]))}")
    frame = pd.DataFrame(list(rows), columns=columns).set_index(columns[0])
    if digits is not None:
        frame = frame.round(digits)
    # The row labels' name moves to the column axis: pandas then writes it in the
    # header's corner cell instead of a second header row.
    frame.columns.name, frame.index.name = columns[0], None
    return frame
