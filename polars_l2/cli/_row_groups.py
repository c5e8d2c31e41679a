"""Parquet row groups read in bounded slices, whatever size a file claims.

Polars decodes a parquet row group whole: the memory a query takes grows
with the rows of the largest row group, and a small file can claim many
rows (constant columns compress to almost nothing; old writers put up to
64 Mi rows in one group). A file whose largest row group claims more than
:data:`ROWS` rows is therefore read as consecutive slices of :data:`ROWS`
rows, each its own query: Polars decodes only the pages a slice needs, so
memory stays bounded by the slice, and the slices' states merge exactly as
files' states do. A claim the data does not hold fails in Polars' reader,
as any corrupt file does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from collections.abc import Iterator

    import polars as pl

#: The most rows decoded at once from one parquet file (4 Mi).
ROWS = 1 << 22


def claimed_rows(target: str) -> tuple[int, int]:
    """Return the rows a parquet file claims: in all, and in its largest group.

    Only the footer is read.
    """
    metadata = pq.read_metadata(target)
    groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    return sum(groups), max(groups, default=0)


def slices(
    frame: pl.LazyFrame, target: str, file_format: str
) -> Iterator[pl.LazyFrame]:
    """Yield `frame` whole, or in slices of :data:`ROWS` rows if a group is larger.

    Parameters
    ----------
    frame
        The scan of the file.
    target
        The path the scan reads (for the parquet footer).
    file_format
        The file's format: only parquet is sliced.
    """
    if file_format != "parquet":
        yield frame
        return
    total, largest = claimed_rows(target)
    if largest <= ROWS:
        yield frame
        return
    for offset in range(0, total, ROWS):
        yield frame.slice(offset, ROWS)
