"""Plans hold native expressions only: no Python callback, no in-memory fallback."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl
import pytest

import polars_l2

if TYPE_CHECKING:
    from collections.abc import Callable

LF = pl.LazyFrame(
    {
        "g": [1, 1, 2],
        "y": [1, 2, 3],
        "p": [1.5, 2.0, 2.0],
        "w": [1, 2, 1],
    },
    schema={"g": pl.Int64, "y": pl.Int32, "p": pl.Float32, "w": pl.UInt8},
)

QUERIES: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {
    "loss": lambda lf: lf.with_columns(polars_l2.loss("y", "p").alias("loss")),
    "select": lambda lf: lf.select(
        polars_l2.sse("y", "p").alias("sse"),
        polars_l2.mse("y", "p", weight="w").alias("mse"),
        polars_l2.rmse("y", "p", nan_policy="omit").alias("rmse"),
    ),
    "group_by": lambda lf: lf.group_by("g").agg(
        polars_l2.mse("y", "p").alias("mse"),
        polars_l2.rmse("y", "p", weight="w").alias("rmse"),
    ),
    "over": lambda lf: lf.with_columns(polars_l2.mse("y", "p").over("g").alias("m")),
}

# The streaming engine draws a node that falls back to the in-memory engine
# with this fill colour (its legend always mentions "in-memory", so the
# colour and the node kind are what identify a fallback).
FALLBACK_COLOUR = 'fillcolor="0.0 0.3 1.0"'


@pytest.mark.parametrize("name", list(QUERIES))
def test_explain_has_no_python_function(name: str) -> None:
    plan = QUERIES[name](LF).explain()
    assert "python" not in plan.lower()
    assert "udf" not in plan.lower()
    # The plan is resolved: the casts chosen at plan time are in it.
    assert "Float64" in plan


@pytest.mark.parametrize("name", list(QUERIES))
def test_streaming_physical_plan_has_no_in_memory_fallback(name: str) -> None:
    graph = QUERIES[name](LF).show_graph(
        engine="streaming", plan_stage="physical", raw_output=True
    )
    assert isinstance(graph, str)
    nodes = [line for line in graph.splitlines() if re.match(r"\s*\d+ \[label=", line)]
    assert nodes, graph
    for node in nodes:
        assert FALLBACK_COLOUR not in node, node
        assert "in-memory-map" not in node, node
        assert "python" not in node.lower(), node


def test_a_python_callback_would_be_detected() -> None:
    # Guards the two tests above: the same checks do see a Python callback.
    lf = LF.select(pl.col("p").map_batches(lambda s: s * 2, return_dtype=pl.Float32))
    assert "python" in lf.explain().lower()
    graph = lf.show_graph(engine="streaming", plan_stage="physical", raw_output=True)
    assert isinstance(graph, str)
    nodes = [line for line in graph.splitlines() if re.match(r"\s*\d+ \[label=", line)]
    assert any(FALLBACK_COLOUR in node or "python" in node.lower() for node in nodes), (
        graph
    )
