"""Sample data shipped with polars-l2.

``houses.parquet`` holds synthetic house prices by region with the predictions
of two models; ``polars-l2 demo`` evaluates it. :mod:`polars_l2.data.make_houses`
is the deterministic script that generated it.
"""
