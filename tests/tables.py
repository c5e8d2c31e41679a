"""Real Delta Lake and Iceberg tables, written by the tests.

:func:`write_delta` writes a Delta table with ``deltalake`` (through
``DataFrame.write_delta``), optionally partitioned, and can delete rows
afterwards, so that its parquet files hold rows the table no longer has.
:func:`write_iceberg` writes an Iceberg table with ``pyiceberg`` in a local
SQLite catalog, optionally deleting rows (pyiceberg rewrites the files it
touches: the old ones stay in ``data/``). Both return what the table holds,
read by Polars' own ``scan_delta`` / ``scan_iceberg``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import polars as pl
import pytest

if TYPE_CHECKING:
    from pathlib import Path


def write_delta(
    frame: pl.DataFrame,
    root: Path,
    *,
    partition_by: str | None = None,
    delete: str | None = None,
) -> pl.LazyFrame:
    """Write `frame` as a Delta table at `root`; delete rows where `delete`.

    Returns ``pl.scan_delta(root)``: the table's current version.
    """
    deltalake = pytest.importorskip("deltalake")
    options = {"partition_by": [partition_by]} if partition_by else None
    frame.write_delta(root, delta_write_options=options)
    if delete is not None:
        deltalake.DeltaTable(str(root)).delete(delete)
    return pl.scan_delta(str(root))


def write_iceberg(
    frame: pl.DataFrame, warehouse: Path, *, delete: str | None = None
) -> tuple[Path, pl.LazyFrame]:
    """Write `frame` as an Iceberg table in a SQLite catalog under `warehouse`.

    Returns the table's directory and ``pl.scan_iceberg`` of the table.
    """
    sql = pytest.importorskip("pyiceberg.catalog.sql")
    warehouse.mkdir(parents=True, exist_ok=True)
    catalog = sql.SqlCatalog(
        "tests",
        uri=f"sqlite:///{warehouse / 'catalog.db'}",
        warehouse=warehouse.as_uri(),
    )
    catalog.create_namespace("ns")
    table = catalog.create_table("ns.preds", schema=frame.to_arrow().schema)
    with warnings.catch_warnings():
        # pyiceberg warns when a delete rewrites files (copy-on-write).
        warnings.simplefilter("ignore", UserWarning)
        table.append(frame.to_arrow())
        if delete is not None:
            table.delete(delete)
    return warehouse / "ns" / "preds", pl.scan_iceberg(table)
