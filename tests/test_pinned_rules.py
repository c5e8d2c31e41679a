"""Rules whose change no other test saw: each test fails if its rule changes.

- merging states never merges distinct keys: every key must survive the
  cast to the common dtype, not some (2**53 + 1 and 2.0**53 stay apart);
- ``small`` is "effective size below ``min_n``": a segment of exactly
  ``min_n`` rows is not small, in the report and in ``compare``;
- the histogram's bins are whole powers of two, by index: bins are stored
  in saved states, so a state of another binning would merge mismatched
  bins;
- the overall row's top-1% share is null when any segment's histogram is
  unknown (a state built with ``top_share=False``), never the share of the
  segments that have one.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import polars_l2
from polars_l2._core import top_share


def test_merging_never_casts_a_key_into_another() -> None:
    ints = pl.DataFrame(
        {"k": [2**53 + 1, 1], "y": [1.0, 2.0], "p": [0.0, 0.0]},
        schema={"k": pl.Int64, "y": pl.Float64, "p": pl.Float64},
    )
    floats = pl.DataFrame({"k": [2.0**53], "y": [5.0], "p": [0.0]})
    states = [polars_l2.state(f, "y", "p", by="k") for f in (ints, floats)]
    # As Float64, 2**53 + 1 would become 2.0**53: one key of two.
    with pytest.raises(polars_l2.L2InputError, match="no common dtype holds every key"):
        polars_l2.merge_states(states)
    # Keys that survive the cast merge in Float64.
    fine = polars_l2.state(ints.with_columns(k=pl.Series([2**52, 1])), "y", "p", by="k")
    merged = polars_l2.merge_states([fine, states[1]])
    assert merged["k"].to_list() == [1.0, 2.0**52, 2.0**53]


@pytest.mark.parametrize(("rows", "small"), [(29, True), (30, False), (31, False)])
def test_a_segment_of_exactly_min_n_rows_is_not_small(rows: int, small: bool) -> None:
    rng = np.random.default_rng(rows)
    y = rng.normal(0.0, 1.0, rows)
    frame = pl.DataFrame({"y": y, "p": y + 1.0, "q": y + rng.normal(0.0, 1.0, rows)})
    report = polars_l2.report(frame, "y", ["p", "q"], min_n=30)
    assert report["small"].to_list() == [small, small]
    state = polars_l2.finalize(polars_l2.state(frame, "y", "p"), min_n=30)
    assert state["small"].to_list() == [small]
    compared = polars_l2.compare(frame, "y", "p", ["q"], min_n=30)
    assert compared["small"].to_list() == [small]


def _bin(x: float) -> int:
    """Return the bin of a squared error: its binary exponent, biased by 1023.

    ``math.frexp`` gives x = m * 2**e with 0.5 <= m < 1, so the power of
    two at or below x is 2**(e - 1); IEEE 754 stores that exponent + 1023.
    """
    if x == 0:
        return 0
    _, exponent = math.frexp(x)
    return exponent - 1 + 1023


def test_histogram_bins_are_whole_powers_of_two() -> None:
    squares = [0.0, 0.25, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 3.99, 4.0, 1e-300, 1e300]
    frame = pl.DataFrame(
        {"y": [0.0] * len(squares), "p": [math.sqrt(x) for x in squares]}
    )
    state = polars_l2.state(frame, "y", "p")
    bins = state.select(pl.col(top_share.HISTOGRAM).explode()).unnest(
        top_share.HISTOGRAM
    )
    counts: dict[int, int] = {}
    for x in (row**2 for row in frame["p"]):
        counts[_bin(x)] = counts.get(_bin(x), 0) + 1
    assert dict(zip(bins["bin"], bins["weight"], strict=True)) == counts
    # The known values, by hand: [2, 4) is bin 1024, [1, 2) 1023, [0.5, 1) 1022.
    assert counts[1024] == 3  # 2.0, 3.0, 3.99
    assert counts[1023] == 2  # 1.0, 1.5
    assert counts[1022] == 1  # 0.5
    assert counts[1021] == 2  # 0.25, 0.3


def _halves(frame: pl.DataFrame) -> pl.DataFrame:
    """One segment's state with its histogram, the other's without, merged."""
    with_histogram = polars_l2.state(frame.filter(g="a"), "y", "p", by="g")
    without = polars_l2.state(frame.filter(g="b"), "y", "p", by="g", top_share=False)
    return polars_l2.merge_states([with_histogram, without])


def test_the_overall_top_share_is_null_when_a_segment_lacks_its_histogram() -> None:
    rng = np.random.default_rng(5)
    n = 400
    y = rng.normal(0.0, 1.0, n)
    frame = pl.DataFrame(
        {"g": ["a", "b"] * (n // 2), "y": y, "p": y + rng.standard_t(3, n)}
    )
    merged = _halves(frame)
    for lazy in (False, True):
        state = merged.lazy() if lazy else merged
        got = polars_l2.finalize(state, overall=True)
        got = got.collect() if isinstance(got, pl.LazyFrame) else got
        shares = dict(zip(got["g"], got["top_1pct_share"], strict=True))
        assert shares["a"] is not None
        assert shares["b"] is None
        assert shares[None] is None  # the overall row: part of its data unknown
        for bound in ("top_1pct_share_low", "top_1pct_share_high"):
            assert got.filter(pl.col("overall"))[bound].item() is None
