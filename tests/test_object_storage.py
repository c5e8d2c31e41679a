"""The command line on object storage: a local S3-compatible server (moto).

The server runs for the test session on 127.0.0.1 and a free port; Polars
reaches it through the environment (``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``
and fake keys), as a user's run would. Reports are compared with
:func:`polars_l2.report` on the same rows built in this process, and with
the command line on a local copy of the same tree.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from polars_l2.cli import _inputs
from tests.test_cli import assert_one_line_error, from_csv, make_data
from tests.test_cli_inputs import assert_reports, evaluate
from tests.test_cli_states import (
    columns,
    expected_n,
    make_day,
    n_of,
    notes,
    report_of,
)
from tests.test_cli_states import inline as inline_states

if TYPE_CHECKING:
    from collections.abc import Iterator

MOTO_SERVER = shutil.which("moto_server") or str(
    Path(sys.executable).with_name("moto_server")
)
pytestmark = pytest.mark.skipif(
    not Path(MOTO_SERVER).exists(), reason="needs moto[server] (the test extra)"
)
BUCKET = "polars-l2-tests"
REGIONS = ["north", "south", "east"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def moto(**env: str) -> Iterator[str]:
    """Run moto's S3 server on a free loopback port; yield its endpoint."""
    port = _free_port()
    server = subprocess.Popen(
        [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/")
                connection.getresponse().read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture(scope="session")
def rows() -> pl.DataFrame:
    """All rows, with the Hive key the object paths give them."""
    parts = [
        make_data(i, 400).drop("region").with_columns(region=pl.lit(region))
        for i, region in enumerate(REGIONS)
    ]
    return pl.concat(parts)


@pytest.fixture(scope="session")
def server(rows: pl.DataFrame) -> Iterator[str]:
    """Moto's server with s3://BUCKET/preds/region=R/part-0.parquet and noise."""
    with moto() as endpoint:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment(endpoint).items():
                patch.setenv(name, value)
            # Plain PUTs: pyarrow's output streams use multipart uploads,
            # which moto's server failed to complete now and then.
            store = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )
            store.create_bucket(Bucket=BUCKET)
            for (region,), part in rows.group_by("region"):
                part.drop("region").write_parquet(
                    f"s3://{BUCKET}/preds/region={region}/part-0.parquet"
                )
            for noise in ("preds/_SUCCESS", "preds/.hidden.parquet", "preds/x.txt"):
                store.put_object(Bucket=BUCKET, Key=noise, Body=b"not data")
            rows.write_parquet(f"s3://{BUCKET}/delta/part-0.parquet")
            store.put_object(Bucket=BUCKET, Key="delta/_delta_log/0.json", Body=b"{}")
        yield endpoint


@pytest.fixture
def s3(server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set the environment a user sets for the server; return the bucket."""
    for name, value in environment(server).items():
        monkeypatch.setenv(name, value)
    return f"s3://{BUCKET}"


def test_prefix_and_glob_with_a_hive_key(
    capsys: pytest.CaptureFixture[str],
    s3: str,
    rows: pl.DataFrame,
    tmp_path: Path,
) -> None:
    # The same tree on the local disk, for the local evaluation.
    for (region,), part in rows.group_by("region"):
        (tmp_path / f"region={region}").mkdir()
        part.drop("region").write_parquet(tmp_path / f"region={region}" / "p.parquet")
    local = evaluate(capsys, tmp_path, by=["region"])
    assert local.returncode == 0, local.stderr
    for argument in (f"{s3}/preds/", f"{s3}/preds", f"{s3}/preds/*/*.parquet"):
        result = evaluate(capsys, argument, by=["region"])
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert_reports(result.stdout, rows, ["region"])
        # The same numbers as the local files, to rounding: the engine may
        # sum the objects' batches in another order.
        assert_frame_equal(
            from_csv(result.stdout).sort("model", "region"),
            from_csv(local.stdout).sort("model", "region"),
            rel_tol=1e-12,
            abs_tol=1e-15,
        )


def test_progress_counts_the_objects(s3: str) -> None:
    sources = _inputs.discover([f"{s3}/preds/"])
    assert [s.path for s in sources] == [
        f"{s3}/preds/region={r}/part-0.parquet" for r in sorted(REGIONS)
    ]
    assert all(s.remote and not s.stream for s in sources)
    assert [p.value for s in sources for p in s.partitions] == sorted(REGIONS)


def test_one_object(capsys: pytest.CaptureFixture[str], s3: str) -> None:
    # A single file is one query, top_1pct_share included.
    result = evaluate(capsys, f"{s3}/preds/region=east/part-0.parquet")
    assert result.returncode == 0, result.stderr
    assert from_csv(result.stdout)["top_1pct_share"].is_not_null().all()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("s3://no-such-bucket-here/preds/", r"bucket does not exist \(NoSuchBucket\)"),
        ("{s3}/missing.parquet", r"missing\.parquet: .*key does not exist"),
        ("{s3}/missing/", r"missing/: nothing under this prefix"),
        ("{s3}/pre*/nothing*.parquet", r"no objects match this pattern"),
        ("{s3}/preds/x.txt", r"unsupported file type \(extension '\.txt'\)"),
        # A Delta table is read by pl.scan_delta: this one's log is empty.
        ("{s3}/delta/", r"delta: cannot read a Delta Lake table \("),
    ],
)
def test_bad_paths_are_one_line(
    capsys: pytest.CaptureFixture[str], s3: str, path: str, message: str
) -> None:
    assert_one_line_error(evaluate(capsys, path.format(s3=s3)), message)


def program(endpoint: str, path: str) -> subprocess.CompletedProcess[str]:
    """Run the installed program on `path`, with the server's environment.

    Polars keeps its object-store clients for the life of the process, so a
    second server (another endpoint) needs a process of its own.
    """
    return subprocess.run(
        [
            *(sys.executable, "-m", "polars_l2", "evaluate", path),
            *("--actual", "y", "--predicted", "a", "--predicted", "b"),
            *("--weight", "w", "--by", "region", "-f", "csv"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **environment(endpoint)},
        timeout=120,
        check=False,
    )


def test_denied_access_is_one_line() -> None:
    # With authentication on, moto refuses the keys it does not know.
    with moto(INITIAL_NO_AUTH_ACTION_COUNT="0") as endpoint:
        for path in (f"s3://{BUCKET}/preds/", f"s3://{BUCKET}/a.parquet"):
            result = program(endpoint, path)
            assert_one_line_error(
                result, rf"{path}: The AWS Access Key Id .* does not exist"
            )


def test_the_installed_program_reads_the_environment(
    server: str, rows: pl.DataFrame
) -> None:
    result = program(server, f"s3://{BUCKET}/preds/")
    assert result.returncode == 0, result.stderr
    assert_reports(result.stdout, rows, ["region"])


def test_polars_still_lists_object_storage() -> None:
    # The listing uses a private Polars function: fail loudly if it goes.
    from polars.io._expand_paths import _expand_paths  # noqa: PLC0415

    assert callable(_expand_paths)


# --- each object counted once --------------------------------------------------


def _store() -> object:
    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _put(key: str, frame: pl.DataFrame) -> None:
    """Write `frame` as one parquet object with a plain PUT."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    _store().put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())  # type: ignore[attr-defined]


@pytest.fixture
def days(s3: str, request: pytest.FixtureRequest) -> tuple[str, list[pl.DataFrame]]:
    """Three day objects under a prefix of this test's own; return the prefix."""
    prefix = f"days-{request.node.name}"
    frames = [make_day(seed, rows=90 + 10 * seed) for seed in range(3)]
    for i, frame in enumerate(frames):
        _put(f"{prefix}/d{i}.parquet", frame)
    return f"{s3}/{prefix}", frames


def test_the_monitoring_recipe_over_a_glob_counts_each_object_once(
    capsys: pytest.CaptureFixture[str],
    days: tuple[str, list[pl.DataFrame]],
    tmp_path: Path,
) -> None:
    prefix, frames = days
    state = tmp_path / "st.parquet"
    glob = f"{prefix}/*.parquet"
    first = inline_states(
        capsys, "evaluate", glob, *columns(), "--save-state", state, "-f", "csv"
    )
    assert n_of(report_of(first)) == expected_n(frames)
    for _ in range(2):  # the job runs again, and again
        again = inline_states(
            capsys,
            "evaluate",
            glob,
            "--state",
            state,
            "--save-state",
            state,
            "-f",
            "csv",
        )
        assert n_of(report_of(again)) == expected_n(frames)
        assert [re.sub(r" --state .*", "", line) for line in notes(again)] == [
            f"polars-l2: note: skipping {prefix}/d{i}.parquet: already counted in"
            for i in range(3)
        ]


def test_an_object_run_again_or_spelt_with_two_slashes_is_skipped(
    capsys: pytest.CaptureFixture[str],
    days: tuple[str, list[pl.DataFrame]],
    tmp_path: Path,
) -> None:
    prefix, frames = days
    state = tmp_path / "st.parquet"
    d0 = f"{prefix}/d0.parquet"
    doubled = d0.replace(f"{BUCKET}/", f"{BUCKET}//", 1)
    both = inline_states(capsys, "evaluate", d0, doubled, *columns(), "-f", "csv")
    assert both.returncode == 0, both.stderr
    assert n_of(report_of(both)) == expected_n(frames[:1])
    assert f"{doubled} (= {d0})" in both.stderr
    inline_states(capsys, "evaluate", d0, *columns(), "--save-state", state)
    for spelling in (d0, doubled):
        again = inline_states(
            capsys,
            "evaluate",
            spelling,
            "--state",
            state,
            "--save-state",
            state,
            "-f",
            "csv",
        )
        assert n_of(report_of(again)) == expected_n(frames[:1])
        assert re.search(
            rf"skipping {re.escape(spelling)}: already counted", notes(again)[0]
        )


def test_a_changed_object_is_counted_once_with_its_new_content(
    capsys: pytest.CaptureFixture[str],
    days: tuple[str, list[pl.DataFrame]],
    tmp_path: Path,
) -> None:
    prefix, frames = days
    state = tmp_path / "st.parquet"
    d0 = f"{prefix}/d0.parquet"
    inline_states(capsys, "evaluate", d0, *columns(), "--save-state", state)
    corrected = make_day(7, rows=55)
    _put(d0.removeprefix(f"s3://{BUCKET}/"), corrected)
    update: list[str | Path] = ["evaluate", d0, "--state", state, "--save-state", state]
    update += ["-f", "csv"]
    changed = inline_states(capsys, *update)
    assert n_of(report_of(changed)) == expected_n([frames[0], corrected])
    # Counted, with the note that the name was counted with other content.
    (said,) = notes(changed)
    assert f"{d0} was counted in --state {state} with other content" in said
    again = inline_states(capsys, *update)
    assert n_of(report_of(again)) == expected_n([frames[0], corrected])
    assert "already counted" in notes(again)[0]


def test_a_server_side_copy_is_the_same_source(
    capsys: pytest.CaptureFixture[str],
    days: tuple[str, list[pl.DataFrame]],
    tmp_path: Path,
) -> None:
    prefix, frames = days
    state = tmp_path / "st.parquet"
    key = f"{prefix}/d1.parquet".removeprefix(f"s3://{BUCKET}/")
    _store().copy_object(  # type: ignore[attr-defined]
        Bucket=BUCKET, Key=f"{key}.copy/d1.parquet", CopySource=f"{BUCKET}/{key}"
    )
    inline_states(
        capsys, "evaluate", f"{prefix}/d1.parquet", *columns(), "--save-state", state
    )
    copy = f"s3://{BUCKET}/{key}.copy/d1.parquet"
    result = inline_states(capsys, "evaluate", copy, "--state", state, "-f", "csv")
    assert n_of(report_of(result)) == expected_n(frames[1:2])
    assert "already counted" in notes(result)[0]
