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

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The most rows decoded at once from one parquet file (4 Mi).
ROWS = 1 << 22


def claimed_rows(target: str) -> tuple[int, int]:
    """Return the rows a parquet file claims: in all, and in its largest group.

    Only the footer is read, by pyarrow. Where pyarrow cannot read it (a
    column type it lacks, such as Polars' 128-bit integers), the largest
    group is taken to be the whole file, as Polars counts it: such a file
    is sliced whenever it is large.
    """
    try:
        metadata = pq.read_metadata(target)
    except (OSError, ValueError, pa.ArrowException):
        total = pl.scan_parquet(target, glob=False).select(pl.len()).collect().item()
        return total, total
    groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    return sum(groups), max(groups, default=0)


def rows_to_slice(target: str, file_format: str) -> int | None:
    """Return the rows of a file to read in slices; None to read it whole.

    A parquet file whose largest row group claims more than :data:`ROWS`
    rows is read in slices; any other file whole.
    """
    if file_format != "parquet":
        return None
    total, largest = claimed_rows(target)
    return total if largest > ROWS else None


def slices(frame: pl.LazyFrame, total: int) -> Iterator[pl.LazyFrame]:
    """Yield consecutive slices of :data:`ROWS` rows of `frame`, `total` in all."""
    for offset in range(0, total, ROWS):
        yield frame.slice(offset, ROWS)
