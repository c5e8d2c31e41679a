"""The top-1% share keeps its documented error bound against an exact sort.

The reference sorts each segment's squared errors with numpy and takes the
largest 1% of the rows, the boundary row fractionally. The report's share may
differ only inside the straddling power-of-two bin: by at most half of 1% of
the rows times that bin's width, over the SSE (``polars_l2.report``, Notes);
a segment of at most 100 rows is exact. States of chunks, merged, give the
report's share.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal

import polars_l2


def exact_shares(
    g: np.ndarray, x: np.ndarray, segments: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return each segment's exact share and the bound on the histogram's error.

    Segments are numbered ``0 .. segments - 1``; `x` are squared errors.
    """
    order = np.lexsort((-x, g))
    gs, xs = g[order], x[order]
    n = np.bincount(gs, minlength=segments)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    rank = np.arange(len(xs)) - start[gs]
    k = 0.01 * n[gs]
    taken = np.clip(k - rank, 0.0, 1.0)
    sse = np.bincount(gs, weights=xs, minlength=segments)
    top = np.bincount(gs, weights=taken * xs, minlength=segments)
    # The boundary row is the smallest one taken; its bin spans one power of two.
    boundary = np.full(segments, np.inf)
    np.minimum.at(boundary, gs[taken > 0], xs[taken > 0])
    width = 2.0 ** np.floor(np.log2(boundary, where=n > 0, out=np.zeros(segments)))
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = np.where(n <= 100, 0.0, 0.5 * 0.01 * n * width / sse)
    with np.errstate(invalid="ignore"):  # segments without rows: no share
        return top / sse, bound


def heavy_tailed(rows: int, segments: int, seed: int) -> pl.DataFrame:
    """Return rows spread over segments of very different sizes, Student-t errors."""
    rng = np.random.default_rng(seed)
    # Squared ranks make a few segments large and most of them small.
    g = (rng.random(rows) ** 2 * segments).astype(np.int64)
    y = rng.normal(100.0, 10.0, rows)
    return pl.DataFrame({"g": g, "y": y, "p": y + rng.standard_t(2.0, rows)})


@pytest.mark.parametrize(
    ("segments", "rows"),
    [
        (10, 200_000),
        (1_000, 200_000),
        pytest.param(1_000_000, 3_000_000, marks=pytest.mark.slow),
    ],
)
def test_share_is_within_its_bound_of_an_exact_sort(segments: int, rows: int) -> None:
    df = heavy_tailed(rows, segments, seed=segments)
    got = polars_l2.report(df.lazy(), "y", "p", by="g").collect(engine="streaming")
    g = df["g"].to_numpy()
    x = (df["y"] - df["p"]).to_numpy() ** 2
    share, bound = exact_shares(g, x, segments)
    present = np.bincount(g, minlength=segments) > 0
    ids = got["g"].to_numpy()
    assert np.array_equal(ids, np.flatnonzero(present))
    error = np.abs(got["top_1pct_share"].to_numpy() - share[ids])
    assert np.all(error <= bound[ids] + 1e-12 * share[ids])
    # Both kinds of segment are there: binned, and exact from the moments.
    sizes = got["n"].to_numpy()
    assert (sizes > 100).any()
    assert (sizes <= 100).any() or segments == 10
    if segments > 1_000:
        return  # merging is checked on the smaller cases; it costs more here
    # The chunks' states, merged, give the same shares.
    chunks = [
        polars_l2.state(part, "y", "p", by="g") for part in df.iter_slices(rows // 3)
    ]
    merged = polars_l2.finalize(polars_l2.merge_states(chunks))
    assert_series_equal(
        merged.sort("g")["top_1pct_share"], got["top_1pct_share"], rel_tol=1e-12
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("column", "value"),
    [("p", np.nan), ("p", np.inf), ("w", np.nan)],
    ids=["nan-error", "inf-error", "nan-weight"],
)
def test_a_nan_or_infinite_error_gives_a_nan_share_not_the_other_rows_share(
    column: str, value: float, weighted: bool
) -> None:
    # Segments of 300 rows are binned, and the walk computes parts only for
    # the bins at the top: a NaN must still reach its segment's share, and
    # no other segment's.
    if column == "w" and not weighted:
        pytest.skip("an unweighted report reads no weight")
    rng = np.random.default_rng(5)
    rows = 900
    y = rng.normal(100.0, 10.0, rows)
    df = pl.DataFrame(
        {
            "g": np.repeat([0, 1, 2], rows // 3),
            "y": y,
            "p": y + rng.standard_t(3.0, rows),
            "w": rng.uniform(0.5, 2.0, rows),
        }
    )
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 450)  # in segment 1
        .then(value)
        .otherwise(pl.col(column))
        .alias(column)
    )
    got = polars_l2.report(df, "y", "p", by="g", weight="w" if weighted else None)
    for bound in ("", "_low", "_high"):
        share = got.sort("g")[f"top_1pct_share{bound}"].to_list()
        assert math.isnan(share[1])
        assert 0.01 <= share[0] < 1
        assert 0.01 <= share[2] < 1


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_the_bounds_hold_the_share_on_every_row_in_the_last_bit_too(
    weighted: bool,
) -> None:
    # Where a bin's range is nil, both ends are the share but for rounding,
    # which must not put the low end above the share or the high end below.
    rng = np.random.default_rng(9)
    rows = 20_000
    df = pl.DataFrame(
        {
            "g": rng.integers(0, 1_000, rows),
            "y": np.zeros(rows),
            "p": rng.standard_t(2.0, rows),
            "w": rng.uniform(0.0, 3.0, rows),
        }
    )
    weight = "w" if weighted else None
    report = polars_l2.report(df, "y", "p", by="g", weight=weight, overall=True)
    chunks = [
        polars_l2.state(part, "y", "p", by="g", weight=weight)
        for part in df.iter_slices(rows // 3)
    ]
    merged = polars_l2.finalize(polars_l2.merge_states(chunks), overall=True)
    for got in (report, merged):
        low, share, high = (
            got[f"top_1pct_share{bound}"].to_numpy() for bound in ("_low", "", "_high")
        )
        assert np.all(low <= share)
        assert np.all(share <= high)
