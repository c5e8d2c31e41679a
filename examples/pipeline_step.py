"""A pipeline step: scan parquet, add the per-row L2 loss, write parquet.

Run with ``python examples/pipeline_step.py [DIRECTORY]``.

The step reads predictions lazily, adds each row's squared error with
``with_columns``, and streams the result to a new parquet file with
``sink_parquet``: the data never has to fit in memory. It writes
``predictions.parquet`` (a small made-up input) and ``scored.parquet`` (the
output) to DIRECTORY, or to a temporary directory that is removed afterwards.
"""

import sys
import tempfile
from pathlib import Path

import polars as pl

import polars_l2


def write_input(path: Path) -> None:
    """Write a small predictions file; one prediction is missing."""
    pl.DataFrame(
        {
            "house": ["Elm St", "Oak Ave", "Pine Rd", "Ash Ct", "Bay Dr"],
            "price": [200_000, 400_000, 300_000, 250_000, 1_200_000],
            "predicted": [220_000.0, 385_000.0, 305_000.0, None, 950_000.0],
        }
    ).write_parquet(path)


def score(source: Path, target: Path) -> None:
    """Add the per-row loss lazily and stream the result to parquet."""
    (
        pl.scan_parquet(source)
        .with_columns(loss=polars_l2.loss("price", "predicted"))
        .sink_parquet(target)
    )


def main(directory: Path) -> None:
    source = directory / "predictions.parquet"
    target = directory / "scored.parquet"
    write_input(source)
    score(source, target)

    scored = pl.read_parquet(target)
    summary = pl.scan_parquet(target).select(
        rows=pl.len(),
        scored=pl.col("loss").count(),
        mse=pl.col("loss").mean(),
        rmse=polars_l2.rmse("price", "predicted"),
    )
    print(f"wrote {target}")
    with pl.Config(
        float_precision=1, thousands_separator=True, tbl_hide_dataframe_shape=True
    ):
        print(scored)
        print(summary.collect())


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
