"""Every metric of the registry, checked for each property it claims.

Modelled on scikit-learn's ``tests/test_common.py``: the properties are
listed per metric in :data:`polars_l2._core.metrics.REGISTRY`, and each test
iterates the registry, so a metric added there is checked here without a
new test. A metric that does not claim a property is also checked *not* to
be silently skipped: every property test asserts it compared some metric.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import polars_l2
from polars_l2._core import metrics

if TYPE_CHECKING:
    from polars_l2._core.metrics import Property

REGISTRY = metrics.REGISTRY

# Values on a grid of quarters: sums stay exact, so the tolerance below only
# absorbs the rounding of divisions and square roots, never cancellation.
grid = st.integers(-200, 200).map(lambda i: i / 4)
int_weights = st.integers(1, 4)
SCHEMA = {"y": pl.Float64, "p": pl.Float64, "w": pl.Float64}


@st.composite
def frames(
    draw: st.DrawFn, *, min_rows: int = 1, weights: bool = False
) -> pl.DataFrame:
    """Complete rows (no nulls): actual, prediction and a positive weight."""
    n = draw(st.integers(min_rows, 12))
    return pl.DataFrame(
        {
            "y": draw(st.lists(grid, min_size=n, max_size=n)),
            "p": draw(st.lists(grid, min_size=n, max_size=n)),
            "w": draw(st.lists(int_weights, min_size=n, max_size=n))
            if weights
            else [1.0] * n,
        },
        schema=SCHEMA,
    )


def claiming(prop: Property) -> list[str]:
    names = [name for name, metric in REGISTRY.items() if prop in metric.properties]
    assert names, f"no metric claims {prop}: the test would check nothing"
    return names


def _report(frame: pl.DataFrame, *, weighted: bool) -> dict[str, float | None]:
    result = polars_l2.report(
        frame, "y", "p", weight="w" if weighted else None, top_share=True
    )
    assert result.height == 1
    return result.row(0, named=True)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _check(
    prop: Property, got: dict[str, float | None], want: dict[str, float | None]
) -> None:
    for name in claiming(prop):
        assert _same(got[name], want[name]), (prop, name, got[name], want[name])


def test_the_report_has_every_metric_of_the_registry_in_order() -> None:
    frame = pl.DataFrame({"y": [1.0, 2.0], "p": [1.0, 3.0], "w": [1.0, 1.0]})
    columns = polars_l2.report(frame, "y", "p").columns
    assert columns == ["model", "overall", "n", "small", *REGISTRY]
    assert polars_l2.finalize(polars_l2.state(frame, "y", "p")).columns == columns


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_metric_documents_itself(name: str) -> None:
    metric = REGISTRY[name]
    assert metric.name == name
    assert metric.doc.endswith(".")
    assert metric.direction in {"lower", "higher", "zero"}
    assert metric.null_rule.startswith("null where")
    assert metric.properties <= {
        "row_order",
        "weight_repeats",
        "weight_scale",
        "zero_weight",
        "pairwise_nulls",
        "symmetric",
    }


@pytest.mark.parametrize("weighted", [False, True])
@settings(max_examples=25)
@given(data=st.data())
def test_row_order(weighted: bool, data: st.DataObject) -> None:
    frame = data.draw(frames(weights=weighted))
    order = data.draw(st.permutations(range(frame.height)))
    shuffled = frame[list(order)]
    _check(
        "row_order",
        _report(shuffled, weighted=weighted),
        _report(frame, weighted=weighted),
    )


@settings(max_examples=25)
@given(frame=frames(min_rows=2, weights=True))
def test_an_integer_weight_is_a_repeated_row(frame: pl.DataFrame) -> None:
    repeated = frame.select(pl.all().repeat_by(pl.col("w").cast(pl.Int64)).explode())
    repeated = repeated.with_columns(w=pl.lit(1.0))
    _check(
        "weight_repeats",
        _report(frame, weighted=True),
        _report(repeated, weighted=True),
    )


@settings(max_examples=25)
@given(frame=frames(weights=True), scale=st.sampled_from([0.25, 3.0, 1024.0]))
def test_scaling_every_weight_changes_nothing(
    frame: pl.DataFrame, scale: float
) -> None:
    scaled = frame.with_columns(pl.col("w") * scale)
    _check(
        "weight_scale",
        _report(scaled, weighted=True),
        _report(frame, weighted=True),
    )


extreme = st.sampled_from([math.inf, -math.inf, math.nan, 1e300, -1e300, 0.0])


@settings(max_examples=25)
@given(
    frame=frames(weights=True),
    y=st.one_of(grid, extreme),
    p=st.one_of(grid, extreme),
    at=st.integers(0, 12),
)
def test_a_zero_weight_is_a_removed_row(
    frame: pl.DataFrame, y: float, p: float, at: int
) -> None:
    # Whatever the row's values, infinite or NaN included.
    row = pl.DataFrame({"y": [y], "p": [p], "w": [0.0]}, schema=SCHEMA)
    at = min(at, frame.height)
    with_zero = pl.concat([frame[:at], row, frame[at:]])
    got = _report(with_zero, weighted=True)
    want = _report(frame, weighted=True)
    assert got["n"] == want["n"]
    _check("zero_weight", got, want)


@pytest.mark.parametrize("weighted", [False, True])
@settings(max_examples=25)
@given(data=st.data())
def test_null_rows_are_dropped_pairwise(weighted: bool, data: st.DataObject) -> None:
    frame = data.draw(frames(weights=weighted))
    nulls = st.lists(
        st.sampled_from(["y", "p", "w"] if weighted else ["y", "p"]),
        min_size=1,
        max_size=2,
    )
    extra = data.draw(st.lists(nulls, min_size=1, max_size=3))
    rows = []
    for missing in extra:
        values: dict[str, float | None] = {"y": 1.5, "p": -2.0, "w": 2.0}
        values.update(dict.fromkeys(missing))
        rows.append(values)
    with_nulls = pl.concat([frame, pl.DataFrame(rows, schema=SCHEMA)])
    _check(
        "pairwise_nulls",
        _report(with_nulls, weighted=weighted),
        _report(frame, weighted=weighted),
    )


@pytest.mark.parametrize("weighted", [False, True])
@settings(max_examples=25)
@given(data=st.data())
def test_symmetric_metrics_ignore_which_side_is_which(
    weighted: bool, data: st.DataObject
) -> None:
    frame = data.draw(frames(weights=weighted))
    swapped = frame.select(y="p", p="y", w="w")
    _check(
        "symmetric",
        _report(swapped, weighted=weighted),
        _report(frame, weighted=weighted),
    )


def test_the_metrics_that_claim_no_symmetry_are_not_symmetric() -> None:
    # Guards the registry: a metric wrongly left out of a property is found.
    frame = pl.DataFrame({"y": [1.0, 2.0, 4.0], "p": [1.0, 3.0, 3.5]})
    swapped = frame.select(y="p", p="y")
    got, want = _report(swapped, weighted=False), _report(frame, weighted=False)
    for name, metric in REGISTRY.items():
        if "symmetric" not in metric.properties:
            assert not _same(got[name], want[name]), name


@settings(max_examples=20)
@given(data=st.data())
def test_the_metrics_that_merge_exactly_merge_exactly(data: st.DataObject) -> None:
    weighted = data.draw(st.booleans())
    frame = data.draw(frames(weights=weighted))
    cut = data.draw(st.integers(0, frame.height))
    weight = "w" if weighted else None
    states = [
        polars_l2.state(part, "y", "p", weight=weight)
        for part in (frame[cut:], frame[:cut])
    ]
    merged = polars_l2.finalize(polars_l2.merge_states(states)).row(0, named=True)
    whole = _report(frame, weighted=weighted)
    for name, metric in REGISTRY.items():
        if metric.exact_merge:
            assert _same(merged[name], whole[name]), (name, merged[name], whole[name])
        else:
            assert merged[name] is None, name


FUNCTIONS = {"sse": polars_l2.sse, "mse": polars_l2.mse, "rmse": polars_l2.rmse}


@pytest.mark.parametrize("name", [name for name in FUNCTIONS if name in REGISTRY])
@settings(max_examples=25)
@given(data=st.data())
def test_the_functions_give_the_registry_value(name: str, data: st.DataObject) -> None:
    weighted = data.draw(st.booleans())
    frame = data.draw(frames(weights=weighted))
    weight = "w" if weighted else None
    function = FUNCTIONS[name](pl.col("y"), pl.col("p"), weight=weight)
    got = frame.select(function).item()
    assert _same(got, _report(frame, weighted=weighted)[name]), name
