r"""Weights are scale-free from 1e-300 to 1e300: the registry's ``weight_scale``.

Multiplying every weight by a positive constant changes no metric that
claims ``weight_scale`` (every one but ``sse``, and ``weight_sum`` itself),
intervals, top-1% share and its bounds, and ``compare``'s p-values
included, on the report, on merged states and on the expression functions.
The squares of weights, which overflow beyond about 1e154 and underflow
below about 1e-154, are never formed (the state keeps
:math:`\sum w^2 / W`). The centred moments are sums of weights times
squared deviations, which must stay within Float64 (the errors here are a
few units: w * e**4 stays below 1e305 at a scale of 1e300).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

import polars_l2
from polars_l2._core.metrics import REGISTRY

if TYPE_CHECKING:
    from collections.abc import Callable

#: Scales across the Float64 range, both ends included.
SCALES = [1e-300, 1e-200, 1e-160, 1e-100, 1e100, 1e160, 1e200, 1e300]

#: Columns that scale with the weights by design.
SCALED = {name for name, m in REGISTRY.items() if "weight_scale" not in m.properties}


def _frame(n: int = 400, seed: int = 11) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, n)
    return pl.DataFrame(
        {
            "g": rng.choice(["a", "b", "c"], n).tolist(),
            "c": (np.arange(n) % 9).tolist(),
            "y": y,
            "p": y + rng.normal(0.5, 2.0, n),
            "q": y + rng.standard_t(3, n),
            "w": rng.uniform(0.2, 3.0, n),
        }
    )


FRAME = _frame()


def _report(frame: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.report(
        frame, "y", ["p", "q"], by="g", weight="w", overall=True
    ).drop("weight_sum", *SCALED)


def _states(frame: pl.DataFrame) -> pl.DataFrame:
    parts = [frame.slice(0, 150), frame.slice(150, 100), frame.slice(250)]
    states = [polars_l2.state(p, "y", ["p", "q"], by="g", weight="w") for p in parts]
    merged = polars_l2.merge_states(states)
    return polars_l2.finalize(merged, overall=True).drop("weight_sum", *SCALED)


def _compare(frame: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.compare(frame, "y", "p", ["q"], by="g", weight="w")


def _clustered(frame: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.compare(frame, "y", "p", ["q"], weight="w", cluster="c")


def _functions(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("g").agg(
        polars_l2.mse("y", "p", weight="w").alias("mse"),
        polars_l2.rmse("y", "q", weight="w").alias("rmse"),
    )


ROUTES: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "report": _report,
    "states": _states,
    "compare": _compare,
    "compare-clustered": _clustered,
    "functions": _functions,
}


def _assert_same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.columns == want.columns
    for name in want.columns:
        for a, b in zip(
            got[name].sort().to_list(), want[name].sort().to_list(), strict=True
        ):
            if isinstance(b, float):
                assert a is not None, name
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (name, a, b)
            else:
                assert a == b, (name, a, b)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_scaling_every_weight_changes_nothing(route: str, scale: float) -> None:
    run = ROUTES[route]
    want = run(FRAME)
    got = run(FRAME.with_columns(pl.col("w") * scale))
    assert got.select(pl.all().is_null().sum()).row(0) == want.select(
        pl.all().is_null().sum()
    ).row(0)
    _assert_same(got, want)


def test_the_reference_has_every_value() -> None:
    # A scale-free route that gave null everywhere would pass the test above.
    report = _report(FRAME)
    for name in ("mse_low", "rmse_high", "mae_low", "top_1pct_share_high"):
        assert report[name].null_count() == 0, name
    assert _clustered(FRAME)["p_value"].null_count() == 0
    assert _compare(FRAME)["p_value"].null_count() == 0


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_weights_of_mixed_scales_give_kish_size(scale: float) -> None:
    # Half the rows weigh `scale`, half `2 * scale`: Kish's n_eff = W^2 / sum w^2.
    frame = pl.DataFrame(
        {"y": [0.0] * 40, "p": [1.0, 2.0] * 20, "w": [scale, 2 * scale] * 20}
    )
    state = polars_l2.state(frame, "y", "p", weight="w")
    effective = state["weight_sum"].item() / state["weight_sq_ratio"].item()
    assert effective == pytest.approx((20 * 3) ** 2 / (20 * 5), rel=1e-12)


def test_a_weight_sum_beyond_float64_gives_inf_and_nan_means_not_numbers() -> None:
    # 400 weights near 1e306 sum past the largest Float64 (about 1.8e308).
    df = _frame().with_columns(pl.col("w") * 1e306)
    got = polars_l2.report(df, "y", "p", weight="w")
    assert math.isinf(got["weight_sum"].item())
    for name in ("mse", "rmse", "mae", "bias"):
        assert math.isnan(got[name].item())
