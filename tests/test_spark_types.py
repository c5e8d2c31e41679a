"""Spark types at the edges of the adapter: what it says where Spark cannot go.

The spark and spark-connect routes (tests/routes.py) run the typed-key cases;
these tests check the documented limits, with the adapter's own message.
Needs the ``spark`` extra (and Java 17 or newer); CI runs them
(``pytest -m distributed``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

import polars_l2
from tests.routes import DISTRIBUTED_MARKS, ROUTES, Context, Query

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("polars_l2.spark")

pytestmark = list(DISTRIBUTED_MARKS)

TIMES = Query(
    pl.DataFrame(
        {
            "g": [dt.time(12, 0, 0, 100_000), dt.time(12, 0, 0, 200_000)],
            "y": [1.0, 2.0],
            "p": [0.0, 0.0],
        }
    ),
    by=["g"],
)


def test_spark_connect_refuses_a_time_key_naming_it(
    spark_connect: Any, tmp_path: Path
) -> None:
    # The limit the spark-connect route documents (unsupported_keys), as a
    # user meets it: an L2InputError naming the key, not Spark's analysis error.
    route = ROUTES["spark-connect"]
    assert route.supports(TIMES) is not None
    context = Context(tmp_path, {route.name: spark_connect})
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"by column 'g' has Spark type time.*UNSUPPORTED_TIME_TYPE.*cast it",
    ):
        route.run(TIMES, context)


def test_classic_spark_gives_a_time_key_back(spark: Any, tmp_path: Path) -> None:
    # The limit is Spark Connect's: a classic session returns time columns.
    route = ROUTES["spark"]
    assert route.supports(TIMES) is None
    got = route.run(TIMES, Context(tmp_path, {route.name: spark}))
    assert got.schema["g"] == pl.Time()
    assert got.select("g", "n").rows() == [
        (dt.time(12, 0, 0, 100_000), 1),
        (dt.time(12, 0, 0, 200_000), 1),
    ]
