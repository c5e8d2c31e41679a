"""Real data shipped with statsmodels and scikit-learn, with two models each.

A least-squares model (``mean``: what L2 rewards) and a median regression
(``median``: what L1 rewards) on the same features, fitted in sample. On
``randhie`` and ``fair`` (counts and skewed targets) the two losses rank
them differently; on scikit-learn's ``diabetes`` they agree.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import statsmodels.api as sm
from sklearn.datasets import load_diabetes


def _models(features: np.ndarray, target: np.ndarray) -> pl.DataFrame:
    design = sm.add_constant(features)
    mean = sm.OLS(target, design).fit().predict(design)
    median = sm.QuantReg(target, design).fit(q=0.5).predict(design)
    return pl.DataFrame(
        {"y": target, "mean": np.asarray(mean), "median": np.asarray(median)}
    )


@functools.cache
def randhie() -> pl.DataFrame:
    """RAND health insurance: doctor visits (``y``), and ``idp`` as a segment."""
    data = sm.datasets.randhie.load_pandas().data
    features = data.drop(columns="mdvis")
    frame = _models(features.to_numpy(float), data["mdvis"].to_numpy(float))
    return frame.with_columns(idp=pl.Series(data["idp"].to_numpy().astype(np.int64)))


@functools.cache
def fair() -> pl.DataFrame:
    """Fair's affairs: time spent in affairs (``y``), ``children`` a segment."""
    data = sm.datasets.fair.load_pandas().data
    features = data.drop(columns="affairs")
    frame = _models(features.to_numpy(float), data["affairs"].to_numpy(float))
    return frame.with_columns(
        children=pl.Series((data["children"].to_numpy() > 0).astype(np.int64))
    )


@functools.cache
def diabetes() -> pl.DataFrame:
    """scikit-learn's diabetes progression (``y``), ``sex`` as a segment."""
    bunch = load_diabetes(scaled=False)
    frame = _models(bunch.data, bunch.target.astype(float))
    return frame.with_columns(sex=pl.Series(bunch.data[:, 1].astype(np.int64)))
