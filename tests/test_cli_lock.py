"""One lock per state, whatever its spelling; never through a planted link.

Concurrent updates run as separate processes (``python -m polars_l2``);
every figure is checked against the rows written to the day files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import polars_l2
from polars_l2.cli import _ledger
from tests.test_cli_states import (
    assert_mse,
    columns,
    expected_n,
    inline,
    n_of,
    write_days,
)

if TYPE_CHECKING:
    from pathlib import Path


def spellings(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Return the state by its path, by a symlink, through a linked directory."""
    real = tmp_path / "states"
    real.mkdir()
    state = real / "s.parquet"
    link = tmp_path / "link.parquet"
    link.symlink_to(state)
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    return state, link, tmp_path / "linked" / "s.parquet"


def test_every_spelling_of_a_state_takes_one_lock(tmp_path: Path) -> None:
    state, link, through = spellings(tmp_path)
    locks = {_ledger.lock_path(p) for p in (state, link, through)}
    assert locks == {state.with_name(".s.parquet.lock")}


@pytest.mark.slow
def test_twenty_concurrent_updates_through_three_spellings_keep_every_update(
    tmp_path: Path,
) -> None:
    days = write_days(tmp_path, 21)
    names = spellings(tmp_path)
    command = [sys.executable, "-m", "polars_l2", "evaluate"]
    first = subprocess.run(
        [*command, str(days[0][0]), *columns(), "--save-state", str(names[0])],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    processes = []
    for k in range(1, 21):
        state = str(names[k % 3])
        update = ["--state", state, "--save-state", state, "--lock-timeout", "600"]
        processes.append(
            subprocess.Popen(
                [*command, str(days[k][0]), *update],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=900)
            assert process.returncode == 0, stderr
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=60)
    merged = polars_l2.finalize(polars_l2.merge_states([names[0]]))
    assert n_of(merged) == expected_n([frame for _, frame in days])
    assert_mse(merged, [frame for _, frame in days])
    # The links are still links, to the one state.
    assert names[1].is_symlink()
    assert names[1].resolve() == names[0].resolve()


def test_a_symlink_planted_at_the_lock_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day, _),) = write_days(tmp_path, 1)
    state, victim = tmp_path / "s.parquet", tmp_path / "victim"
    _ledger.lock_path(state).symlink_to(victim)
    result = inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "the lock file of" in result.stderr
    assert "is a symbolic link" in result.stderr
    assert not victim.exists()
    assert not state.exists()


def test_a_fifo_planted_at_the_lock_is_refused_without_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day, _),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    os.mkfifo(_ledger.lock_path(state))
    result = inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    assert result.returncode == 2
    assert "is not a file" in result.stderr
    assert not state.exists()


def test_a_lock_of_another_user_in_a_shared_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ((day, _),) = write_days(tmp_path, 1)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp: anyone may put a file there
    state = shared / "s.parquet"
    _ledger.lock_path(state).touch()
    # The lock file is the current user's; make this process another user.
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(shared).st_uid + 1)
    result = inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    assert result.returncode == 2
    assert "belongs to another user" in result.stderr
    assert not state.exists()
    # In a directory only its owner writes, the same file is a lock.
    shared.chmod(0o755)
    result = inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    assert result.returncode == 0, result.stderr


def test_a_lock_timeout_without_a_state_to_save_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day, _),) = write_days(tmp_path, 1)
    evaluate: list[str | Path] = ["evaluate", day, *columns()]
    compare: list[str | Path] = ["compare", day, "--actual", "y"]
    compare += ["--baseline", "p", "--candidate", "q"]
    for args in (evaluate, compare):
        result = inline(capsys, *args, "--lock-timeout", "5")
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert "--lock-timeout needs --save-state" in result.stderr
        # With a state to save, the same timeout is taken.
        saved = tmp_path / f"{args[0]}.parquet"
        result = inline(capsys, *args, "--lock-timeout", "5", "--save-state", saved)
        assert result.returncode == 0, result.stderr
        assert saved.exists()
