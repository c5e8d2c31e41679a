"""The same report columns written by hand with other tools: the peer table.

Each peer computes, per model and segment, the columns of
``polars_l2.report(..., top_share=False)`` that a user would otherwise write:
n, sse, sse_share, mse, rmse and their 95% intervals, mae and bias with
theirs, r2, max_error and small. The data has no nulls and no weights, so
every peer may count rows with ``len`` and share one variance of the target
between the models, as an expert would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

Z95 = 1.959963984540054
MIN_N = 30


def expert_aggregations(y: str, models: tuple[str, ...]) -> list[pl.Expr]:
    """Return an expert's one ``group_by`` of every model's moments."""
    actual = pl.col(y)
    aggs = [pl.len().alias("n"), actual.var(ddof=0).alias("y_var")]
    for m in models:
        e = pl.col(m) - actual
        x = e**2
        aggs += [
            x.mean().alias(f"{m}|mse"),
            x.std().alias(f"{m}|x_sd"),
            e.mean().alias(f"{m}|bias"),
            e.std().alias(f"{m}|e_sd"),
            e.abs().mean().alias(f"{m}|mae"),
            e.abs().std().alias(f"{m}|a_sd"),
            e.abs().max().alias(f"{m}|max_error"),
        ]
    return aggs


def expert_columns(models: tuple[str, ...]) -> list[pl.Expr]:
    """Return the report's columns from :func:`expert_aggregations`, wide."""
    n = pl.col("n")
    root_n = n.sqrt()
    out: list[pl.Expr] = [n]
    for m in models:

        def c(name: str, m: str = m) -> pl.Expr:
            return pl.col(f"{m}|{name}")

        mse, sse = c("mse"), c("mse") * n
        se = c("x_sd") / root_n
        rmse = mse.sqrt()
        out += [
            sse.alias(f"{m}|sse"),
            (sse / sse.sum()).alias(f"{m}|sse_share"),
            mse.alias(f"{m}|mse"),
            (rmse * (-Z95 * se / (2 * mse)).exp()).pow(2).alias(f"{m}|mse_low"),
            (rmse * (Z95 * se / (2 * mse)).exp()).pow(2).alias(f"{m}|mse_high"),
            rmse.alias(f"{m}|rmse"),
            (rmse * (-Z95 * se / (2 * mse)).exp()).alias(f"{m}|rmse_low"),
            (rmse * (Z95 * se / (2 * mse)).exp()).alias(f"{m}|rmse_high"),
            c("mae"),
            (c("mae") - Z95 * c("a_sd") / root_n).alias(f"{m}|mae_low"),
            (c("mae") + Z95 * c("a_sd") / root_n).alias(f"{m}|mae_high"),
            c("bias"),
            (c("bias") - Z95 * c("e_sd") / root_n).alias(f"{m}|bias_low"),
            (c("bias") + Z95 * c("e_sd") / root_n).alias(f"{m}|bias_high"),
            (1 - sse / (pl.col("y_var") * n)).alias(f"{m}|r2"),
            c("max_error"),
            (n < MIN_N).alias(f"{m}|small"),
        ]
    return out


def expert(lf: pl.LazyFrame, y: str, models: tuple[str, ...], key: str) -> pl.LazyFrame:
    """Return an expert's query: one ``group_by``, then the columns."""
    grouped = lf.group_by(key).agg(expert_aggregations(y, models))
    return grouped.select(pl.col(key), *expert_columns(models))


def expert_mse(df: pl.DataFrame, models: tuple[str, ...], key: str) -> np.ndarray:
    """Return the expert's MSE by model, then segment (to check the answer)."""
    ordered = df.sort(key)
    return np.concatenate([ordered.get_column(f"{m}|mse").to_numpy() for m in models])


def duckdb_sql(y: str, models: tuple[str, ...], key: str, table: str) -> str:
    """Return the same query in DuckDB's SQL."""
    inner = ["count(*) AS n", f"var_pop({y}) AS y_var"]
    outer = [key, "n"]
    for m in models:
        e = f"({m} - {y})"
        inner += [
            f"avg({e} * {e}) AS {m}_mse",
            f"stddev_samp({e} * {e}) AS {m}_x_sd",
            f"avg({e}) AS {m}_bias",
            f"stddev_samp({e}) AS {m}_e_sd",
            f"avg(abs({e})) AS {m}_mae",
            f"stddev_samp(abs({e})) AS {m}_a_sd",
            f"max(abs({e})) AS {m}_max_error",
        ]
        se = f"({m}_x_sd / sqrt(n))"
        half = f"exp({Z95} * {se} / (2 * {m}_mse))"
        outer += [
            f"{m}_mse * n AS {m}_sse",
            f"{m}_mse * n / sum({m}_mse * n) OVER () AS {m}_sse_share",
            f"{m}_mse",
            f"{m}_mse / ({half} * {half}) AS {m}_mse_low",
            f"{m}_mse * {half} * {half} AS {m}_mse_high",
            f"sqrt({m}_mse) AS {m}_rmse",
            f"sqrt({m}_mse) / {half} AS {m}_rmse_low",
            f"sqrt({m}_mse) * {half} AS {m}_rmse_high",
            f"{m}_mae",
            f"{m}_mae - {Z95} * {m}_a_sd / sqrt(n) AS {m}_mae_low",
            f"{m}_mae + {Z95} * {m}_a_sd / sqrt(n) AS {m}_mae_high",
            f"{m}_bias",
            f"{m}_bias - {Z95} * {m}_e_sd / sqrt(n) AS {m}_bias_low",
            f"{m}_bias + {Z95} * {m}_e_sd / sqrt(n) AS {m}_bias_high",
            f"1 - {m}_mse / y_var AS {m}_r2",
            f"{m}_max_error",
            f"n < {MIN_N} AS {m}_small",
        ]
    return (
        f"SELECT {', '.join(outer)} FROM (SELECT {key}, {', '.join(inner)} "
        f"FROM {table} GROUP BY {key})"
    )


def duckdb_mse(df: pd.DataFrame, models: tuple[str, ...], key: str) -> np.ndarray:
    """Return DuckDB's MSE by model, then segment (to check the answer)."""
    ordered = df.sort_values(key)
    return np.concatenate([ordered[f"{m}_mse"].to_numpy() for m in models])


def pandas_columns(
    frame: pd.DataFrame, y: str, models: tuple[str, ...], key: str
) -> pd.DataFrame:
    """Return the same columns with pandas' vectorised ``groupby``.

    The element-wise columns are built whole first, then one ``groupby().agg``.
    """
    import pandas as pd  # noqa: PLC0415 - optional peer

    work = {key: frame[key], "y": frame[y]}
    for m in models:
        e = frame[m] - frame[y]
        work |= {f"{m}|e": e, f"{m}|x": e * e, f"{m}|a": e.abs()}
    spec: dict[str, list[str]] = {"y": ["size", "var"]}
    for m in models:
        spec |= {
            f"{m}|x": ["mean", "std"],
            f"{m}|e": ["mean", "std"],
            f"{m}|a": ["mean", "std", "max"],
        }
    agg = pd.DataFrame(work).groupby(key, sort=False).agg(spec)
    n = agg[("y", "size")]
    sst = agg[("y", "var")] * (n - 1)
    out = {"n": n}
    for m in models:
        mse = agg[(f"{m}|x", "mean")]
        se = agg[(f"{m}|x", "std")] / np.sqrt(n)
        half = np.exp(Z95 * se / (2 * mse))
        rmse = np.sqrt(mse)
        mae, a_sd = agg[(f"{m}|a", "mean")], agg[(f"{m}|a", "std")]
        bias, e_sd = agg[(f"{m}|e", "mean")], agg[(f"{m}|e", "std")]
        out |= {
            f"{m}|sse": mse * n,
            f"{m}|sse_share": mse * n / (mse * n).sum(),
            f"{m}|mse": mse,
            f"{m}|mse_low": (rmse / half) ** 2,
            f"{m}|mse_high": (rmse * half) ** 2,
            f"{m}|rmse": rmse,
            f"{m}|rmse_low": rmse / half,
            f"{m}|rmse_high": rmse * half,
            f"{m}|mae": mae,
            f"{m}|mae_low": mae - Z95 * a_sd / np.sqrt(n),
            f"{m}|mae_high": mae + Z95 * a_sd / np.sqrt(n),
            f"{m}|bias": bias,
            f"{m}|bias_low": bias - Z95 * e_sd / np.sqrt(n),
            f"{m}|bias_high": bias + Z95 * e_sd / np.sqrt(n),
            f"{m}|r2": 1 - mse * n / sst,
            f"{m}|max_error": agg[(f"{m}|a", "max")],
            f"{m}|small": n < MIN_N,
        }
    return pd.DataFrame(out)


def pandas_mse(df: pd.DataFrame, models: tuple[str, ...]) -> np.ndarray:
    """Return pandas' MSE by model, then segment."""
    ordered = df.sort_index()
    return np.concatenate([ordered[f"{m}|mse"].to_numpy() for m in models])


def fairlearn_frames(
    frame: pd.DataFrame,
    y: str,
    models: tuple[str, ...],
    key: str,
    *,
    fairlearn: ModuleType,
    sk: ModuleType,
) -> list[object]:
    """Return Fairlearn's ``MetricFrame`` of MSE, MAE and R² per segment, per model."""
    metrics = {
        "mse": sk.mean_squared_error,
        "mae": sk.mean_absolute_error,
        "r2": sk.r2_score,
    }
    return [
        fairlearn.metrics.MetricFrame(
            metrics=metrics,
            y_true=frame[y],
            y_pred=frame[m],
            sensitive_features=frame[key],
        ).by_group
        for m in models
    ]


def polars_ds_aggregations(
    y: str, models: tuple[str, ...], pds: ModuleType
) -> list[pl.Expr]:
    """Return the report's columns polars-ds has: MSE, MAE, R², max error."""
    aggs = [pl.len().alias("n")]
    for m in models:
        aggs += [
            pds.query_l2(y, m).alias(f"{m}|mse"),
            pds.query_l1(y, m).alias(f"{m}|mae"),
            pds.query_r2(y, m).alias(f"{m}|r2"),
            pds.query_l_inf(y, m).alias(f"{m}|max_error"),
        ]
    return aggs
