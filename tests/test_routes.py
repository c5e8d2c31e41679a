"""Every route to a report gives the same report, and the right one.

The route matrix (tests/routes.py): every entrance x every input kind it
takes x every feature that differs gives the report of the data as its kind
holds it, to 1e-12 relative, or its documented one-line refusal.

Two kinds of cases also run through the ``route`` fixture:

- report cases (plain, weighted, nulls, several models, keys, NaN, a
  single-row segment, no rows, Int64, Decimal and Boolean inputs): every
  route equals ``polars_l2.report`` on the DataFrame, to rounding and up to
  the route's documented differences, and the numbers equal an independent
  per-segment reference (tests/report_reference.py: scikit-learn, numpy);
- the fault classes (names read as patterns, 128-bit integers and decimals
  rounded per side, constant targets, infinite errors, zero weights, keys
  that lose their dtype, internal names, vector targets), with their right
  values worked out by hand (exact integers and fractions) or by
  scikit-learn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import mean_squared_error, r2_score

import polars_l2
from tests.conftest import route_context
from tests.report_reference import reference_report
from tests.routes import (
    FEATURES,
    KINDS,
    MATRIX_REL_TOL,
    REFUSALS,
    REPORT_ROUTES,
    ROUTES,
    Query,
    Refused,
    assert_same_report,
    cell_query,
    isclose,
    key_columns,
    matrix,
    report_through,
    right_answer,
    route_keys,
    takes,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tests.routes import BoundRoute

# --- the route matrix -----------------------------------------------------------

MATRIX = matrix()


#: The quick run (the README's ``pytest``) takes one cell in this many, in
#: turn over entrances, kinds and features, so that each entrance meets most
#: kinds and features; the full run (``.ci/run``) takes every cell.
QUICK_ONE_IN = 4


def _cells() -> list[Any]:
    entrances, kinds, features = list(ROUTES), list(KINDS), list(FEATURES)

    def marks(entrance: str, kind: str, feature: str) -> list[pytest.MarkDecorator]:
        turn = entrances.index(entrance) + kinds.index(kind) + features.index(feature)
        quick = turn % QUICK_ONE_IN == 0
        return [*ROUTES[entrance].marks, *([] if quick else [pytest.mark.slow])]

    return [
        pytest.param(
            entrance,
            kind,
            feature,
            marks=marks(entrance, kind, feature),
            id=f"{entrance}-{kind}-{feature}",
        )
        for entrance, kind, feature in MATRIX
    ]


@pytest.mark.parametrize(("entrance", "kind", "feature"), _cells())
def test_every_cell_of_the_route_matrix_gives_the_right_answer(
    entrance: str,
    kind: str,
    feature: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    route = ROUTES[entrance]
    query = cell_query(kind, feature)
    context = route_context(request, entrance, tmp_path)
    refusal = REFUSALS.get((entrance, feature))
    if refusal is not None:
        with pytest.raises(Refused, match=refusal):
            report_through(route, query, context)
        return
    got = report_through(route, query, context)
    assert_same_report(
        got,
        right_answer(route, query, feature=feature),
        rel_tol=MATRIX_REL_TOL,
        abs_tol=0.0,
    )


def test_the_matrix_covers_every_entrance_kind_and_feature() -> None:
    entrances = {cell[0] for cell in MATRIX}
    kinds = {cell[1] for cell in MATRIX}
    features = {cell[2] for cell in MATRIX}
    assert entrances == set(ROUTES)
    assert kinds == set(KINDS)
    assert features == set(FEATURES)
    # Every in-process report entrance takes every frame kind.
    for entrance in ("accessor", "eager", "state", "compare"):
        assert {k for e, k, _ in MATRIX if e == entrance} == set(KINDS) - {
            "parquet",
            "engine",
        }


def test_refused_cells_are_cells() -> None:
    for entrance, feature in REFUSALS:
        assert any(takes(entrance, k, feature) for k in KINDS), (entrance, feature)


# --- report cases: every route against report and the reference -------------


def _frame(n: int = 40, *, seed: int = 3) -> pl.DataFrame:
    """Two models, a weight, a string key with a null and an integer key."""
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, n)
    return pl.DataFrame(
        {
            "g": rng.choice(["a", "b", "c"], n).tolist(),
            "h": rng.integers(1, 3, n),
            "y": y,
            "p": y + rng.normal(0.5, 2.0, n),
            "q": y + rng.standard_t(3, n),
            "w": rng.uniform(0.2, 3.0, n),
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) % 11 == 5)
        .then(None)
        .otherwise(pl.col("g"))
        .alias("g")
    )


def _holes(frame: pl.DataFrame, column: str, every: int) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) % every == 1)
        .then(None)
        .otherwise(pl.col(column))
        .alias(column)
    )


def _nan(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(float("nan"))
        .otherwise(pl.col("y"))
        .alias("y")
    )


BASE = _frame()
SINGLE = pl.concat(
    [
        BASE,
        pl.DataFrame(
            {"g": ["lonely"], "h": [1], "y": [3.0], "p": [4.5], "q": [1.0], "w": [2.0]}
        ),
    ],
    how="vertical_relaxed",
)
INTS = pl.DataFrame(
    {
        "y": pl.Series([3, -7, 12, 0, 5], dtype=pl.Int64),
        "p": pl.Series([1, -4, 15, 2, 5], dtype=pl.Int64),
    }
)

REPORT_CASES: dict[str, Query] = {
    "plain": Query(BASE),
    "weighted": Query(BASE, weight="w"),
    "null-actual": Query(_holes(BASE, "y", 4)),
    "null-predicted": Query(_holes(BASE, "p", 5), weight="w"),
    "null-weight": Query(_holes(BASE, "w", 3), weight="w"),
    "two-models": Query(BASE, predicted=["p", "q"]),
    "by-one": Query(BASE, predicted=["p", "q"], by=["g"], weight="w"),
    "by-two": Query(BASE, by=["g", "h"]),
    "nan-propagate": Query(_nan(BASE), by=["h"]),
    "nan-omit": Query(_nan(BASE), by=["h"], nan_policy="omit"),
    "single-row-segment": Query(SINGLE, by=["g"], weight="w"),
    "confidence": Query(BASE, weight="w", confidence=0.8),
    "empty": Query(BASE.clear()),
    "empty-by": Query(BASE.clear(), by=["g"]),
    "int64": Query(INTS),
    "decimal": Query(
        pl.DataFrame(
            {
                "y": [
                    Decimal("1.25"),
                    Decimal("-3.50"),
                    Decimal("10.00"),
                    Decimal("0.05"),
                ],
                "p": [
                    Decimal("1.00"),
                    Decimal("-3.25"),
                    Decimal("9.00"),
                    Decimal("0.10"),
                ],
            },
            schema={"y": pl.Decimal(10, 2), "p": pl.Decimal(10, 2)},
        )
    ),
    "boolean": Query(
        pl.DataFrame(
            {"y": [True, False, True, True, False], "p": [0.9, 0.2, 0.4, 1.0, 0.0]}
        )
    ),
}


def _reference(query: Query) -> pl.DataFrame | None:
    """Return the independent reference for `query`, where one exists."""
    frame = query.frame
    floats = [c for c in (query.actual, *query.models()) if frame[c].dtype.is_float()]
    nan = pl.any_horizontal(pl.col(floats).is_nan()) if floats else pl.lit(value=False)
    if query.nan_policy == "omit":
        frame = frame.filter(~nan.fill_null(value=False))
    elif frame.select(nan.any()).item():
        return None  # NaN propagates: nothing to compare with
    if frame.height == 0 and query.by:
        return None  # the reference has no segments to report on
    return reference_report(
        frame,
        query.actual,
        query.models(),
        by=list(query.by),
        weight=query.weight,
        confidence=query.confidence,
    )


def _assert_matches_reference(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Check the numbers of `got`, row by row, against the reference's."""
    assert got.height == want.height
    keys = key_columns(got)
    # The reference computes the core metrics; the decision columns (small,
    # the intervals of the means, sse_share) have their own references in
    # tests/test_report_decisions.py.
    metrics = [
        c
        for c in got.columns
        if c not in keys and c != "top_1pct_share" and c in want.columns
    ]
    assert {"n", "mse", "rmse_low", "r2"} <= set(metrics) or "n" not in got.columns
    for name in metrics:
        for a, b in zip(got[name].to_list(), want[name].to_list(), strict=True):
            assert isclose(a, b), (name, a, b)
    if "top_1pct_share" in got.columns and "_top_bound" in want.columns:
        for a, b, bound in zip(
            got["top_1pct_share"],
            want["top_1pct_share"],
            want["_top_bound"],
            strict=True,
        ):
            assert (a is None and b is None) or abs(a - b) <= bound + 1e-12


# --- which cases run on the distributed routes --------------------------------

#: The cases that also run on the distributed routes (ray, spark and
#: spark-connect); the other routes run every case. A query through an
#: engine costs about a second (a Ray job, a Spark job with a shuffle)
#: against milliseconds in process, and the adapters compute nothing
#: themselves: their workers run ``polars_l2.state`` and their drivers
#: ``merge_states`` and ``finalize``, which the state and chunks routes check
#: on every case. So the engines run the cases where the engine takes part:
#: how it hands over the data (input types, no rows), how it names columns,
#: how it holds and shuffles keys, and where it merges.
ENGINE_CASES = frozenset(
    {
        # Report cases.
        "by-one",  # two models, weights, a string key with nulls: the shuffle
        "by-two",  # a string and an integer key
        "nan-omit",  # an option that reaches the workers
        "empty",  # no rows: the driver's state of no data
        "empty-by",  # no rows: the keys' dtypes from the schema alone
        "decimal",  # input types through Arrow and Spark
        "boolean",
        # Issue 11: literal names (quoting in Spark), 128-bit integers and
        # Decimal(38, s) (decimal(38, 0) and decimal128 in the engines), an
        # infinite error and zero weights, typed keys, a key named as the
        # merge's own column, vector targets (Arrow lists and arrays).
        "1-regex-by",
        "1-star-predicted",
        "2-int128",
        "2-int128-int64",
        "3-decimal38",
        "3-decimal38-18",
        "5-inf",
        "6-zero-weight-inf",
        "6-zero-weight-nan",
        "7-datetime-ns",
        "7-datetime-zoned",
        "7-duration",
        "7-int-keys-sort-as-numbers",
        "7-signed-zero",
        "7-time-sub-seconds",
        "8-by-_l2_order",
        "9-array",
        "9-list-by",
    }
)


def _on_routes(cases: Iterable[str]) -> list[Any]:
    """Return the (route, case) parameters: :data:`ENGINE_CASES` on engines."""
    return [
        pytest.param(name, case, marks=route.marks, id=f"{name}-{case}")
        for name, route in REPORT_ROUTES.items()
        for case in cases
        if case in ENGINE_CASES or not route.distributed
    ]


@pytest.mark.parametrize(
    ("any_route", "case"), _on_routes(REPORT_CASES), indirect=["any_route"]
)
def test_every_route_gives_the_report(any_route: BoundRoute, case: str) -> None:
    route = any_route
    query = REPORT_CASES[case]
    got = route.report(query)
    right = polars_l2.report(
        query.frame,
        query.actual,
        query.predicted,
        confidence=query.confidence,
        **query.kwargs(),
    )
    assert_same_report(got, route.expected(right))
    reference = _reference(query)
    if reference is not None:
        _assert_matches_reference(got, reference)


# --- the fault classes, with their right values ------------------------------


@dataclass(frozen=True)
class Right:
    """The right report, or the part of it that the case is about.

    ``rows`` lists, for each row of the report in order, the right values of
    some columns. ``key_dtypes`` gives the dtype a key column must have.
    """

    rows: list[dict[str, Any]]
    key_dtypes: dict[str, pl.DataType] = field(default_factory=dict)


def _assert_right(got: pl.DataFrame, right: Right, route: BoundRoute) -> None:
    """Check `got` against the right values, as `route` documents it gives them.

    The keys must have their dtype on every route that keeps dtypes.
    """
    assert got.height == len(right.rows), got
    names = {name for row in right.rows for name in row}
    keys = [k for k in key_columns(got) if k in names]
    for name in keys:
        values = pl.Series(
            name, [row[name] for row in right.rows], dtype=right.key_dtypes.get(name)
        )
        shown = route_keys(route.route, values)
        assert got[name].to_list() == shown.to_list(), (name, got[name], shown)
        if route.route.text is None:
            assert got.schema[name] == shown.dtype, (name, got.schema[name])
    for i, row in enumerate(right.rows):
        for name, value in row.items():
            if name in keys or name not in got.columns:
                continue  # a route that gives no such column (functions: n)
            have = got[name][i]
            if isinstance(value, float):
                assert isclose(have, value), (i, name, have, value)
            else:
                assert have == value, (i, name, have, value)


def _mse(y: list[Any], p: list[Any], w: list[Any] | None = None) -> float:
    """Exact weighted MSE of integers, fractions or decimals, rounded once."""
    weights = [Fraction(1)] * len(y) if w is None else [Fraction(x) for x in w]
    sq = [
        wi * (Fraction(a) - Fraction(b)) ** 2
        for a, b, wi in zip(y, p, weights, strict=True)
        if wi != 0
    ]
    return float(sum(sq, Fraction(0)) / sum(weights))


def _per_output(
    y: np.ndarray, p: np.ndarray, segments: dict[str | None, slice]
) -> list[dict[str, Any]]:
    """Right rows of a vector target: segments, then outputs, by scikit-learn."""
    rows = []
    for key, rows_of in segments.items():
        for output in range(y.shape[1]):
            mse = mean_squared_error(y[rows_of, output], p[rows_of, output])
            named = {} if key is None else {"g": key}
            rows.append(
                {**named, "output": output, "n": len(y[rows_of]), "mse": float(mse)}
            )
    return rows


def _single(
    frame: dict[str, Any], schema: dict[str, Any] | None = None, **kwargs: Any
) -> Query:
    return Query(pl.DataFrame(frame, schema=schema), **kwargs)


def _literal_name_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases where a column name must be read literally, not as a pattern."""
    y3, p3 = [1.0, 2.0, 4.0], [1.5, 2.0, 3.0]
    mse3 = _mse([Fraction(1), 2, 4], [Fraction(3, 2), 2, 3])  # 5/12
    return {
        "1-regex-predicted": (
            _single({"y": y3, "^y$": p3}, predicted="^y$"),
            Right([{"n": 3, "mse": mse3}]),
        ),
        "1-regex-actual": (
            _single({"^p$": y3, "p": p3}, actual="^p$"),
            Right([{"n": 3, "mse": mse3}]),
        ),
        "1-star-predicted": (
            _single({"y": y3, "*": p3}, predicted="*"),
            Right([{"model": "*", "n": 3, "mse": mse3}]),
        ),
        "1-regex-weight": (
            _single(
                {"y": y3, "p": p3, "w": [1.0, 1.0, 1.0], "^w$": [3.0, 1.0, 2.0]},
                weight="^w$",
            ),
            Right(
                [{"n": 3, "mse": _mse([1, 2, 4], [Fraction(3, 2), 2, 3], [3, 1, 2])}]
            ),
        ),
        "1-regex-by": (
            _single(
                {"g": ["a", "a", "b"], "^g$": ["x", "y", "y"], "y": y3, "p": p3},
                by=["^g$"],
            ),
            Right(
                [{"^g$": "x", "n": 1, "mse": 0.25}, {"^g$": "y", "n": 2, "mse": 0.5}]
            ),
        ),
    }


def _int128_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases of 128-bit (and mixed 64/128-bit) integers, differenced exactly."""
    big_y = [12345678901234567890123, 99999999999999999999]
    big_p = [12345678901234567890120, 99999999999999999998]
    return {
        "2-int128": (
            _single({"y": big_y, "p": big_p}, schema={"y": pl.Int128, "p": pl.Int128}),
            Right([{"n": 2, "mse": _mse(big_y, big_p), "max_error": 3.0}]),
        ),
        "2-int128-int64": (
            _single(
                {"y": [10**25 + 1, 2**62], "p": [-(2**63), 2**62 - 2]},
                schema={"y": pl.Int128, "p": pl.Int64},
            ),
            Right([{"n": 2, "mse": _mse([10**25 + 1, 2**62], [-(2**63), 2**62 - 2])}]),
        ),
        "2-int64-int128": (
            _single(
                {"y": [2**62, 7], "p": [2**62 - 2, 10**25 + 7]},
                schema={"y": pl.Int64, "p": pl.Int128},
            ),
            Right([{"n": 2, "mse": _mse([2**62, 7], [2**62 - 2, 10**25 + 7])}]),
        ),
    }


def _decimal_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases of Decimal(38, s) columns, differenced exactly."""
    return {
        "3-decimal38": (
            _single(
                {
                    "y": [Decimal("123456789012.345678")],
                    "p": [Decimal("123456789012.345677")],
                },
                schema={"y": pl.Decimal(38, 6), "p": pl.Decimal(38, 6)},
            ),
            Right(
                [
                    {
                        "n": 1,
                        "mse": _mse(
                            [Decimal("123456789012.345678")],
                            [Decimal("123456789012.345677")],
                        ),
                    }
                ]
            ),
        ),
        "3-decimal38-18": (
            _single(
                {
                    "y": [Decimal("10.000000000000000001"), Decimal("2")],
                    "p": [Decimal("10"), Decimal("2")],
                },
                schema={"y": pl.Decimal(38, 18), "p": pl.Decimal(38, 18)},
            ),
            Right(
                [{"n": 2, "mse": _mse([Decimal("10.000000000000000001"), 2], [10, 2])}]
            ),
        ),
    }


def _constant_target_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases of a constant target: r2 0, or 1 for a perfect fit."""
    return {
        # scikit-learn is no reference here: its variance of [0.1] * 7 is not
        # 0 either. The definition is: 0.0 for a constant target, 1.0 for a
        # perfect fit of one (scikit-learn's force_finite convention).
        "4-constant": (
            _single({"y": [0.1] * 7, "p": [0.6] * 7}),
            Right([{"n": 7, "r2": 0.0}]),
        ),
        "4-constant-perfect": (
            _single({"y": [0.1] * 7, "p": [0.1] * 7}),
            Right([{"n": 7, "r2": 1.0}]),
        ),
        "4-constant-weighted": (
            _single(
                {
                    "y": [0.1] * 7,
                    "p": [0.6, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                    "w": [1.0, 2.0, 0.5, 1.0, 1.0, 3.0, 1.0],
                },
                weight="w",
            ),
            Right([{"n": 7, "r2": 0.0}]),
        ),
        "4-constant-segment": (
            _single(
                {
                    "g": ["c"] * 5 + ["v"] * 3,
                    "y": [0.3] * 5 + [1.0, 2.0, 3.0],
                    "p": [0.7] * 5 + [1.0, 2.0, 4.0],
                },
                by=["g"],
            ),
            Right(
                [
                    {"g": "c", "r2": 0.0},
                    {"g": "v", "r2": float(r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]))},
                ]
            ),
        ),
    }


def _infinite_error_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases where an infinite error gives an infinite sse, mse and rmse."""
    inf = float("inf")
    return {
        "5-inf": (
            _single({"y": [inf, 1.0], "p": [1.0, 1.0]}),
            Right([{"n": 2, "sse": inf, "mse": inf, "rmse": inf}]),
        ),
        "5-minus-inf-weighted": (
            _single(
                {"y": [1.0, 2.0, 3.0], "p": [-inf, 2.0, 3.5], "w": [0.5, 1.0, 2.0]},
                weight="w",
            ),
            Right([{"n": 3, "sse": inf, "mse": inf, "rmse": inf}]),
        ),
    }


def _zero_weight_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases where a zero weight removes its row, whatever its error."""
    inf = float("inf")
    return {
        "6-zero-weight-1e300": (
            _single(
                {"y": [1.0, 2.0, 1e300], "p": [1.5, 2.0, 0.0], "w": [1.0, 1.0, 0.0]},
                weight="w",
            ),
            Right([{"mse": 0.125, "sse": 0.25}]),
        ),
        "6-zero-weight-inf": (
            _single(
                {"y": [1.0, 2.0, inf], "p": [1.5, 2.0, 0.0], "w": [1.0, 1.0, 0.0]},
                weight="w",
            ),
            Right([{"mse": 0.125, "sse": 0.25, "rmse": 0.125**0.5}]),
        ),
        "6-zero-weight-nan": (
            _single(
                {
                    "y": [1.0, 2.0, float("nan")],
                    "p": [1.5, 2.0, 0.0],
                    "w": [1.0, 1.0, 0.0],
                },
                weight="w",
            ),
            Right([{"mse": 0.125, "sse": 0.25}]),
        ),
    }


def _key_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases where keys keep their dtype, their order and their identity."""
    time = [dt.time(12, 0, 0, 100_000), dt.time(12, 0, 0, 200_000)]
    return {
        "7-int-keys-sort-as-numbers": (
            _single(
                {
                    "g": [10, 2, 1, 2],
                    "y": [1.0, 2.0, 3.0, 4.0],
                    "p": [1.0, 1.0, 1.0, 1.0],
                },
                by=["g"],
            ),
            Right(
                [{"g": 1, "n": 1}, {"g": 2, "n": 2}, {"g": 10, "n": 1}],
                {"g": pl.Int64()},
            ),
        ),
        "7-signed-zero": (
            _single({"g": [-0.0, 0.0], "y": [1.0, 2.0], "p": [0.0, 0.0]}, by=["g"]),
            Right([{"g": 0.0, "n": 2, "mse": 2.5}], {"g": pl.Float64()}),
        ),
        "7-time-sub-seconds": (
            _single({"g": time, "y": [1.0, 2.0], "p": [0.0, 0.0]}, by=["g"]),
            Right([{"g": time[0], "n": 1}, {"g": time[1], "n": 1}], {"g": pl.Time()}),
        ),
        "7-duration": (
            _single(
                {
                    "g": [dt.timedelta(seconds=2), dt.timedelta(seconds=1)],
                    "y": [1.0, 2.0],
                    "p": [0.0, 0.0],
                },
                by=["g"],
            ),
            Right(
                [
                    {"g": dt.timedelta(seconds=1), "n": 1},
                    {"g": dt.timedelta(seconds=2), "n": 1},
                ],
                {"g": pl.Duration("us")},
            ),
        ),
    }


def _datetime_key_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases where datetime keys keep their time zone and their unit."""
    return {
        "7-datetime-zoned": (
            _single(
                {
                    "g": [
                        dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
                        dt.datetime(2024, 5, 1, 6, 30, tzinfo=dt.UTC),
                        dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
                    ],
                    "y": [1.0, 2.0, 3.0],
                    "p": [0.0, 0.0, 0.0],
                },
                schema={
                    "g": pl.Datetime("ms", "Asia/Kolkata"),
                    "y": pl.Float64,
                    "p": pl.Float64,
                },
                by=["g"],
            ),
            Right(
                [
                    {"g": dt.datetime(2024, 5, 1, 6, 30, tzinfo=dt.UTC), "n": 1},
                    {"g": dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), "n": 2},
                ],
                {"g": pl.Datetime("ms", "Asia/Kolkata")},
            ),
        ),
        "7-datetime-ns": (
            _single(
                {
                    "g": [dt.datetime(2024, 5, 1, 12), dt.datetime(2024, 5, 1, 12)],
                    "y": [1.0, 2.0],
                    "p": [0.0, 0.0],
                },
                schema={"g": pl.Datetime("ns"), "y": pl.Float64, "p": pl.Float64},
                by=["g"],
            ),
            Right(
                [{"g": dt.datetime(2024, 5, 1, 12), "n": 2}], {"g": pl.Datetime("ns")}
            ),
        ),
    }


def _internal_name_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases where the queries' own column names meet the user's."""
    y3, p3 = [1.0, 2.0, 4.0], [1.5, 2.0, 3.0]
    mse3 = _mse([Fraction(1), 2, 4], [Fraction(3, 2), 2, 3])  # 5/12
    return {
        "8-by-_bin": (
            _single({"_bin": ["a"], "y": [1.0], "p": [0.0]}, by=["_bin"]),
            Right([{"_bin": "a", "n": 1, "mse": 1.0}]),
        ),
        "8-by-_l2_order": (
            _single({"_l2_order": [2, 1, 2], "y": y3, "p": p3}, by=["_l2_order"]),
            Right(
                [
                    {"_l2_order": 1, "n": 1, "mse": 0.0},
                    {"_l2_order": 2, "n": 2, "mse": _mse([1, 4], [Fraction(3, 2), 3])},
                ]
            ),
        ),
        "8-model-_l2_top_0": (
            _single({"y": y3, "_l2_top_0": p3}, predicted="_l2_top_0"),
            Right([{"model": "_l2_top_0", "n": 3, "mse": mse3}]),
        ),
        "8-weight-_l2_moments": (
            _single(
                {"y": y3, "p": p3, "_l2_moments": [3.0, 1.0, 2.0]}, weight="_l2_moments"
            ),
            Right(
                [{"n": 3, "mse": _mse([1, 2, 4], [Fraction(3, 2), 2, 3], [3, 1, 2])}]
            ),
        ),
    }


def _vector_cases() -> dict[str, tuple[Query, Right]]:
    """Return cases of vector targets: one row per output, on every route."""
    v_y, v_p = (
        np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]]),
        np.array([[1.5, 2.0], [3.0, 3.0], [0.0, 1.0]]),
    )
    vec = pl.Array(pl.Float64, 2)
    return {
        "9-array": (
            _single({"y": v_y, "p": v_p}, schema={"y": vec, "p": vec}),
            Right(_per_output(v_y, v_p, {None: slice(None)})),
        ),
        "9-list-by": (
            _single(
                {"g": ["a", "a", "b"], "y": v_y.tolist(), "p": v_p.tolist()},
                schema={
                    "g": pl.String,
                    "y": pl.List(pl.Float64),
                    "p": pl.List(pl.Float64),
                },
                by=["g"],
            ),
            Right(_per_output(v_y, v_p, {"a": slice(0, 2), "b": slice(2, 3)})),
        ),
    }


ISSUE_CASES: dict[str, tuple[Query, Right]] = {
    **_literal_name_cases(),
    **_int128_cases(),
    **_decimal_cases(),
    **_constant_target_cases(),
    **_infinite_error_cases(),
    **_zero_weight_cases(),
    **_key_cases(),
    **_datetime_key_cases(),
    **_internal_name_cases(),
    **_vector_cases(),
}


@pytest.mark.parametrize(
    ("any_route", "case"), _on_routes(ISSUE_CASES), indirect=["any_route"]
)
def test_the_fault_classes_get_their_right_values_on_every_route(
    any_route: BoundRoute, case: str
) -> None:
    query, right = ISSUE_CASES[case]
    got = any_route.report(query)
    _assert_right(got, right, any_route)


def test_routes_are_named_once() -> None:
    assert len(ROUTES) == len({p.name for p in ROUTES.values()})


def test_engine_cases_are_cases() -> None:
    assert set(REPORT_CASES).isdisjoint(ISSUE_CASES)
    assert ENGINE_CASES.issubset({*REPORT_CASES, *ISSUE_CASES})
