"""Real data shipped with statsmodels and scikit-learn, with two models each.

A least-squares model (``mean``: what L2 rewards) and a median regression
(``median``: what L1 rewards) on the same features, fitted in sample. On
``randhie`` and ``fair`` (counts and skewed targets) the two losses rank
them differently; on scikit-learn's ``diabetes`` they agree.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import polars as pl
import statsmodels.api as sm
from sklearn.datasets import load_diabetes

if TYPE_CHECKING:
    import numpy as np


def _models(features: pl.DataFrame, target: np.ndarray) -> pl.DataFrame:
    """Return the features, the target ``y`` and both models' predictions."""
    design = sm.add_constant(features.to_numpy().astype(float))
    mean = sm.OLS(target, design).fit().predict(design)
    median = sm.QuantReg(target, design).fit(q=0.5).predict(design)
    return features.with_columns(
        y=pl.Series(target), mean=pl.Series(mean), median=pl.Series(median)
    )


@functools.cache
def randhie() -> pl.DataFrame:
    """RAND health insurance: doctor visits (``y``), and ``idp`` as a segment."""
    data = pl.from_pandas(sm.datasets.randhie.load_pandas().data)
    frame = _models(data.drop("mdvis"), data["mdvis"].to_numpy().astype(float))
    return frame.with_columns(pl.col("idp").cast(pl.Int64))


@functools.cache
def fair() -> pl.DataFrame:
    """Fair's affairs: time in affairs (``y``), ``has_children`` a segment."""
    data = pl.from_pandas(sm.datasets.fair.load_pandas().data)
    frame = _models(data.drop("affairs"), data["affairs"].to_numpy().astype(float))
    return frame.with_columns(has_children=(pl.col("children") > 0).cast(pl.Int64))


@functools.cache
def diabetes() -> pl.DataFrame:
    """scikit-learn's diabetes progression (``y``), ``sex`` as a segment."""
    bunch = load_diabetes(scaled=False, as_frame=True)
    features = pl.from_pandas(bunch.data)
    frame = _models(features, bunch.target.to_numpy().astype(float))
    return frame.with_columns(pl.col("sex").cast(pl.Int64))
