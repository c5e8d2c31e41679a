"""Every metric of the registry, checked for each property it claims.

Modelled on scikit-learn's ``tests/test_common.py``: the properties are
listed per metric in :data:`polars_l2._core.metrics.REGISTRY`, and each test
iterates the registry, so a metric added there is checked here without a
new test. The properties themselves come from the registry
(``metrics.PROPERTIES``), each with its check (:data:`CHECKS`), and every
property runs on every report route (:data:`ROUTES`: eager, streaming, a
state, merged chunks), as narwhals runs each test over its constructors.
A metric that does not claim a property is also checked *not* to be
silently skipped: every property test asserts it compared some metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

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


def _finalized(state: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    result = polars_l2.finalize(state)
    assert isinstance(result, pl.DataFrame)
    return result


def _eager(frame: pl.DataFrame, weight: str | None) -> pl.DataFrame:
    result = polars_l2.report(frame, "y", "p", weight=weight)
    assert isinstance(result, pl.DataFrame)
    return result


def _streaming(frame: pl.DataFrame, weight: str | None) -> pl.DataFrame:
    result = polars_l2.report(frame.lazy(), "y", "p", weight=weight)
    assert isinstance(result, pl.LazyFrame)
    return result.collect(engine="streaming")


def _state(frame: pl.DataFrame, weight: str | None) -> pl.DataFrame:
    return _finalized(polars_l2.state(frame, "y", "p", weight=weight))


def _chunks(frame: pl.DataFrame, weight: str | None) -> pl.DataFrame:
    # Three parts, some possibly empty, merged out of order.
    cuts = [frame.height // 3, 2 * frame.height // 3]
    parts = [frame[cuts[1] :], frame[: cuts[0]], frame[cuts[0] : cuts[1]]]
    states = [polars_l2.state(part, "y", "p", weight=weight) for part in parts]
    return _finalized(polars_l2.merge_states(states))


#: The report routes every property is checked on, as narwhals runs each
#: test over its constructors: the report in memory and on the streaming
#: engine, a state finalised, and the merge of states of parts
#: (tests/routes.py runs the other routes against these).
ROUTES: dict[str, Callable[[pl.DataFrame, str | None], pl.DataFrame]] = {
    "eager": _eager,
    "streaming": _streaming,
    "state": _state,
    "chunks": _chunks,
}


def _report(
    frame: pl.DataFrame, *, weighted: bool, route: str = "eager"
) -> dict[str, float | None]:
    result = ROUTES[route](frame, "w" if weighted else None)
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
    assert metric.properties <= set(metrics.PROPERTIES)


# --- each property: the frame, and the frame changed as the property allows --

#: A check draws (frame, changed frame, weighted): every metric claiming the
#: property gives the same value for both.
Check: TypeAlias = Callable[[st.DataObject], tuple[pl.DataFrame, pl.DataFrame, bool]]


def _row_order(data: st.DataObject) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    weighted = data.draw(st.booleans())
    frame = data.draw(frames(weights=weighted))
    order = data.draw(st.permutations(range(frame.height)))
    return frame, frame[list(order)], weighted


def _weight_repeats(data: st.DataObject) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    frame = data.draw(frames(min_rows=2, weights=True))
    repeated = frame.select(pl.all().repeat_by(pl.col("w").cast(pl.Int64)).explode())
    return frame, repeated.with_columns(w=pl.lit(1.0)), True


def _weight_scale(data: st.DataObject) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    # The whole Float64 range of scales (tests/test_weight_scale.py runs
    # them on more routes and on compare). The centred moments are sums of
    # weights times squared deviations (w * e**4 for the MSE's interval),
    # which must stay within Float64: errors up to 12.5 here, whose e**4
    # times 4e300 does.
    frame = data.draw(frames(weights=True)).with_columns(pl.col("y", "p") / 8)
    scale = data.draw(st.sampled_from([0.25, 3.0, 1024.0, 1e-300, 1e-160, 1e300]))
    return frame, frame.with_columns(pl.col("w") * scale), True


extreme = st.sampled_from([math.inf, -math.inf, math.nan, 1e300, -1e300, 0.0])


def _zero_weight(data: st.DataObject) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    # Whatever the row's values, infinite or NaN included.
    frame = data.draw(frames(weights=True))
    y, p = data.draw(st.one_of(grid, extreme)), data.draw(st.one_of(grid, extreme))
    at = min(data.draw(st.integers(0, 12)), frame.height)
    row = pl.DataFrame({"y": [y], "p": [p], "w": [0.0]}, schema=SCHEMA)
    return frame, pl.concat([frame[:at], row, frame[at:]]), True


def _pairwise_nulls(data: st.DataObject) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    weighted = data.draw(st.booleans())
    frame = data.draw(frames(weights=weighted))
    nulls = st.lists(
        st.sampled_from(["y", "p", "w"] if weighted else ["y", "p"]),
        min_size=1,
        max_size=2,
    )
    rows = []
    for missing in data.draw(st.lists(nulls, min_size=1, max_size=3)):
        values: dict[str, float | None] = {"y": 1.5, "p": -2.0, "w": 2.0}
        values.update(dict.fromkeys(missing))
        rows.append(values)
    return frame, pl.concat([frame, pl.DataFrame(rows, schema=SCHEMA)]), weighted


def _symmetric(data: st.DataObject) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    weighted = data.draw(st.booleans())
    frame = data.draw(frames(weights=weighted))
    return frame, frame.select(y="p", p="y", w="w"), weighted


#: How each property of the registry is checked (one entry per property).
CHECKS: dict[Property, Check] = {
    "row_order": _row_order,
    "weight_repeats": _weight_repeats,
    "weight_scale": _weight_scale,
    "zero_weight": _zero_weight,
    "pairwise_nulls": _pairwise_nulls,
    "symmetric": _symmetric,
}


def test_every_property_of_the_registry_has_its_check() -> None:
    assert list(CHECKS) == list(metrics.PROPERTIES)


@pytest.mark.parametrize(
    "route",
    # The quick run checks the properties on the first route; the full run
    # on every route.
    [
        pytest.param(r, marks=[] if i == 0 else [pytest.mark.slow])
        for i, r in enumerate(ROUTES)
    ],
)
@pytest.mark.parametrize("prop", metrics.PROPERTIES)
@settings(max_examples=12)
@given(data=st.data())
def test_every_property_holds_on_every_route(
    prop: Property, route: str, data: st.DataObject
) -> None:
    frame, changed, weighted = CHECKS[prop](data)
    got = _report(changed, weighted=weighted, route=route)
    want = _report(frame, weighted=weighted, route=route)
    if prop == "zero_weight":
        assert got["n"] == want["n"]
    _check(prop, got, want)


def test_the_metrics_that_claim_no_symmetry_are_not_symmetric() -> None:
    # Guards the registry: a metric wrongly left out of a property is found.
    frame = pl.DataFrame({"y": [1.0, 2.0, 4.0], "p": [1.0, 3.0, 3.5]})
    swapped = frame.select(y="p", p="y")
    got, want = _report(swapped, weighted=False), _report(frame, weighted=False)
    for name, metric in REGISTRY.items():
        if "symmetric" not in metric.properties:
            assert not _same(got[name], want[name]), name


@pytest.mark.slow
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
