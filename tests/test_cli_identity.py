"""What the command counts is what it read: one identity per source, every route.

A source is known by the SHA-256 of the bytes the scan read; identical
content given twice in one run is one source (skipped with a note) on every
route: one query or states, with or without ``--state``/``--save-state``,
``evaluate`` or ``compare``, one file or several. Files are made in
temporary directories; ``n`` is checked against the rows written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from typing import TYPE_CHECKING

import polars as pl
import pytest

import polars_l2
from polars_l2.cli import _ledger, _opened
from tests.test_cli_states import (
    MODELS,
    columns,
    expected_n,
    inline,
    make_day,
    n_of,
    notes,
    report_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import IO


def ledger_entries(state: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads(
        pl.read_parquet_metadata(state)[_ledger.LEDGER_KEY]
    )
    return entries


# --- identical content given twice ----------------------------------------------


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path, Path, pl.DataFrame, pl.DataFrame]:
    """Two files with identical bytes (a, copy) and a third day (b)."""
    day, other = make_day(1), make_day(2, rows=33)
    day.write_parquet(tmp_path / "a.parquet")
    shutil.copyfile(tmp_path / "a.parquet", tmp_path / "copy.parquet")
    other.write_parquet(tmp_path / "b.parquet")
    return (
        tmp_path / "a.parquet",
        tmp_path / "copy.parquet",
        tmp_path / "b.parquet",
        day,
        other,
    )


#: Each route's commands; A and COPY have identical bytes, B is another day,
#: S is the state.
ROUTES = {
    "one query": [["evaluate", "A", "COPY"]],
    "states": [["evaluate", "A", "COPY", "B"]],
    "save-state": [["evaluate", "A", "COPY", "B", "--save-state", "S"]],
    "state then save": [
        ["evaluate", "A", "--save-state", "S"],
        ["evaluate", "COPY", "B", "--state", "S", "--save-state", "S"],
    ],
}


@pytest.mark.parametrize("route", ROUTES)
def test_identical_content_twice_is_one_source_on_every_route(
    route: str,
    twins: tuple[Path, Path, Path, pl.DataFrame, pl.DataFrame],
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, copy, b, day, other = twins
    state = a.with_name("s.parquet")
    names: dict[str, str | Path] = {"A": a, "COPY": copy, "B": b, "S": state}
    for command in ROUTES[route]:
        args = [names.get(word, word) for word in command]
        result = inline(capsys, *args, *columns(), "-f", "csv")
    frames = [day, other] if "B" in ROUTES[route][-1] else [day]
    assert n_of(report_of(result)) == expected_n(frames)
    (note,) = notes(result)
    how = (
        "already counted in --state"
        if len(ROUTES[route]) == 2
        else "the same content as"
    )
    assert re.search(rf"skipping .*copy\.parquet: {how} .*(a|s)\.parquet", note)
    if state.exists():
        hashes = [
            str(e["sha256"]) for e in ledger_entries(state) if e["kind"] == "file"
        ]
        assert sorted(hashes) == sorted(
            hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)
        )


@pytest.mark.parametrize("cluster", [False, True])
def test_compare_counts_identical_content_once(
    cluster: bool,
    twins: tuple[Path, Path, Path, pl.DataFrame, pl.DataFrame],
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, copy, b, day, other = twins
    options = ["--actual", "y", "--baseline", "p", "--candidate", "q", "--min-n", "2"]
    if cluster:  # the rows route: every file read as one frame
        options += ["--cluster", "g"]
    result = inline(capsys, "compare", a, copy, b, *options, "-f", "csv")
    assert result.returncode == 0, result.stderr
    (note,) = notes(result)
    assert re.search(
        r"skipping .*copy\.parquet: the same content as .*a\.parquet", note
    )
    expected = polars_l2.compare(
        pl.concat([day, other]),
        "y",
        "p",
        "q",
        min_n=2,
        cluster="g" if cluster else None,
    )
    got = report_of(result)
    assert got.get_column("n").to_list() == expected.get_column("n").to_list()
    assert got.get_column("loss_diff").to_list() == pytest.approx(
        expected.get_column("loss_diff").to_list(), rel=1e-12
    )


# --- one open: the bytes hashed are the bytes counted ---------------------------


def _after_hash(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Run `action` right after a file is hashed, before it is scanned."""
    hash_into = _opened._hash_into

    def hash_then_act(
        stream: IO[bytes], copy: IO[bytes] | None, **kwargs: object
    ) -> tuple[str, int]:
        result = hash_into(stream, copy, **kwargs)  # type: ignore[arg-type]
        action()
        return result

    monkeypatch.setattr(_opened, "_hash_into", hash_then_act)


def test_a_file_replaced_after_it_was_opened_is_counted_as_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = make_day(3), make_day(4, rows=50)
    day, state = tmp_path / "day.parquet", tmp_path / "s.parquet"
    old.write_parquet(day)
    old_hash = hashlib.sha256(day.read_bytes()).hexdigest()
    new.write_parquet(tmp_path / "new.parquet")

    def replace() -> None:
        os.replace(tmp_path / "new.parquet", day)  # a rename over the path

    with monkeypatch.context() as patch:
        _after_hash(patch, replace)
        first = inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    assert first.returncode == 0, first.stderr
    # The open file was read: the old rows, recorded by the old bytes' hash.
    counted = polars_l2.finalize(polars_l2.merge_states([state]))
    assert n_of(counted) == expected_n([old])
    assert [e["sha256"] for e in ledger_entries(state)] == [old_hash]
    # The new content is a new source: counted once, then skipped.
    again: list[str | Path] = [
        day,
        "--state",
        state,
        "--save-state",
        state,
        "-f",
        "csv",
    ]
    assert n_of(report_of(inline(capsys, "evaluate", *again))) == expected_n([old, new])
    third = inline(capsys, "evaluate", *again)
    assert n_of(report_of(third)) == expected_n([old, new])
    assert "already counted" in notes(third)[0]


def test_a_file_written_in_place_while_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    day, state = tmp_path / "day.csv", tmp_path / "s.parquet"
    make_day(5).write_csv(day)

    def append() -> None:
        with day.open("ab") as handle:  # the same inode, one more row
            handle.write(b"a,1.0,2.0,3.0,1.0\n")

    _after_hash(monkeypatch, append)
    result = inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    assert result.returncode == 2
    assert re.fullmatch(
        r"polars-l2: error: .*day\.csv: changed while it was read; .*\n",
        result.stderr,
    )
    assert not state.exists()


# --- names are literal ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ipc", "ndjson"])
def test_a_name_with_pattern_characters_is_read_literally(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extension = {"ipc": "arrow"}.get(fmt, fmt)
    bracket, plain = make_day(6, rows=31), make_day(7, rows=45)
    getattr(bracket, f"write_{fmt}")(tmp_path / f"d[1].{extension}")
    getattr(plain, f"write_{fmt}")(tmp_path / f"d1.{extension}")
    alone = inline(
        capsys, "evaluate", tmp_path / f"d[1].{extension}", *columns(), "-f", "csv"
    )
    assert n_of(report_of(alone)) == expected_n([bracket])
    both = inline(capsys, "evaluate", tmp_path, *columns(), "-f", "csv")
    assert n_of(report_of(both)) == expected_n([bracket, plain])
    assert both.stderr == ""


def test_a_file_counted_before_with_other_content_is_counted_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = make_day(3)
    path, state = tmp_path / "day.parquet", tmp_path / "s.parquet"
    day.head(25).write_parquet(path)
    first = inline(capsys, "evaluate", path, *columns(), "--save-state", state)
    assert first.returncode == 0, first.stderr
    assert notes(first) == []
    # The file grows after it was counted: its content now is new content,
    # counted in full, and the note says the first rows are counted again.
    day.write_parquet(path)
    args: list[str | Path] = [path, *columns(), "--state", state]
    args += ["--save-state", state, "-f", "csv"]
    grown = inline(capsys, "evaluate", *args)
    said = notes(grown)
    assert len(said) == 1
    assert f"{path} was counted in --state {state} with other content" in said[0]
    assert sum(n_of(report_of(grown)).values()) == (25 + day.height) * len(MODELS)
    # Content counted already is skipped with its own note, not this one.
    again = inline(capsys, "evaluate", *args)
    assert [line for line in notes(again) if "other content" in line] == []


# --- one file's bytes in two Hive partitions ------------------------------------


@pytest.fixture
def partitioned(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """Write the same bytes under region=north/ and region=south/."""
    day = make_day(3)
    for region in ("north", "south"):
        (tmp_path / "data" / f"region={region}").mkdir(parents=True)
    day.write_parquet(tmp_path / "data" / "region=north" / "part-0.parquet")
    shutil.copyfile(
        tmp_path / "data" / "region=north" / "part-0.parquet",
        tmp_path / "data" / "region=south" / "part-0.parquet",
    )
    return tmp_path / "data", day


def _by_region(result: object) -> dict[str, int]:
    report = report_of(result)  # type: ignore[arg-type]
    return dict(report.group_by("region").agg(pl.col("n").sum()).rows())


def test_the_same_bytes_in_two_partitions_are_two_sources(
    partitioned: tuple[Path, pl.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    root, day = partitioned
    state = root.with_name("s.parquet")
    args = ["--actual", "y", "--predicted", "p", "--by", "region", "-f", "csv"]
    first = inline(capsys, "evaluate", root, *args, "--save-state", state)
    assert _by_region(first) == {"north": day.height, "south": day.height}
    assert notes(first) == []
    recorded = sorted(str(e["partitions"]) for e in ledger_entries(state))
    assert recorded == ["[['region', 'north']]", "[['region', 'south']]"]
    # Rerun on the state: both partitions are counted already, neither twice.
    again = inline(capsys, "evaluate", root, "--state", state, *args)
    assert _by_region(again) == {"north": day.height, "south": day.height}
    assert len(notes(again)) == 2
    assert all("already counted in --state" in note for note in notes(again))


def test_an_older_ledger_without_partitions_knows_a_file_by_its_bytes() -> None:
    old = _ledger._entry({"kind": "file", "sha256": "0" * 64, "size": 1, "name": "x"})
    assert old.partitions is None
    north = _ledger.Entry("file", "0" * 64, 1, "n", (("region", "north"),))
    south = _ledger.Entry("file", "0" * 64, 1, "s", (("region", "south"),))
    assert old.same_source(north)
    assert old.same_source(south)
    assert not north.same_source(south)
    assert not north.same_source(
        _ledger.Entry("file", "1" * 64, 1, "n", north.partitions)
    )


@pytest.mark.parametrize("partitions", ["north", [["region"]], [[1, "a"]], [["k", 2]]])
def test_a_ledger_with_damaged_partitions_is_refused(partitions: object) -> None:
    item = {"kind": "file", "sha256": "0" * 64, "size": 1, "name": "x"}
    with pytest.raises(ValueError, match="field 'partitions'"):
        _ledger._entry({**item, "partitions": partitions})
