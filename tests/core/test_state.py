"""The state toolkit: dead workers, the output-root lock, temp clean-up, permissions, paths, seeds."""
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.core.atomic import atomic_path, remove_stale_temporaries, temp_name, write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.jobs import run_jobs
from uhr4k.core.locks import lock_root
from uhr4k.core.paths import inside
from uhr4k.core.records import Failure, RecordStore
from uhr4k.core.seeds import derive_seed

HOLD = """
import sys, time
from uhr4k.core.locks import lock_root
with lock_root(sys.argv[1], "holder"):
    open(sys.argv[2], "w").close()
    time.sleep(60)
"""


def square_or_die(job):
    """A job function for run_jobs: job -1 kills its own worker process with SIGKILL (as the OOM killer)."""
    if job == -1:
        os.kill(os.getpid(), signal.SIGKILL)
    if job == -2:
        raise ValueError("a bug in the job function")
    if job == -3:       # dies just after answering: killed while idle, before it is fed again
        import threading
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGKILL)).start()
        return "answered"
    return job * job


def test_a_worker_killed_after_answering_loses_no_job():
    """The parent feeds a worker after reading its answer; one killed in between is not fed (a broken
    pipe), its next job goes to a new worker, and every job has its result."""
    out = {}
    for index, value in run_jobs(square_or_die, [-3, 1, 2, 3, 4], workers=2, progress=False, stage="test"):
        out[index] = value
        if value == "answered":
            time.sleep(1.5)          # the worker dies before the parent gets round to feeding it
    assert out == {0: "answered", 1: 1, 2: 4, 3: 9, 4: 16}


def test_a_killed_worker_is_one_failed_job_and_the_others_finish():
    jobs = [1, 2, -1, 3, 4, 5]
    started = time.monotonic()
    out = dict(run_jobs(square_or_die, jobs, workers=2, progress=False, stage="test",
                              ids=[f"j{k}" for k in range(len(jobs))]))
    assert time.monotonic() - started < 60
    assert {k: v for k, v in out.items() if k != 2} == {0: 1, 1: 4, 3: 9, 4: 16, 5: 25}
    failure = out[2]
    assert isinstance(failure, Failure) and failure.stage == "test" and failure.id == "j2"
    assert "SIGKILL" in failure.reason and "\n" not in failure.reason


def test_an_exception_in_a_worker_is_raised_in_the_caller():
    with pytest.raises(ValueError, match="a bug in the job function"):
        list(run_jobs(square_or_die, [1, -2, 3], workers=2, progress=False))


def test_one_worker_runs_in_process_in_order():
    assert list(run_jobs(square_or_die, [3, 4], workers=1, progress=False)) == [(0, 9), (1, 16)]


def _hold_lock(root: Path, tmp_path: Path) -> subprocess.Popen:
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), str(ready)])
    for _ in range(200):
        if ready.exists():
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the lock holder did not start")


def test_a_second_process_on_the_same_root_stops_at_once_and_a_dead_ones_lock_is_taken_over(tmp_path):
    root = tmp_path / "root"
    proc = _hold_lock(root, tmp_path)
    try:
        with pytest.raises(InputError, match=rf"in use by process {proc.pid} \(started .*holder\)"):
            with lock_root(root):
                pass
        # the command line: one line, exit 2, nothing written (build-syn checks the lock before any file)
        (tmp_path / "frames").mkdir()
        result = CliRunner().invoke(cli, ["build-syn", "--frames", str(tmp_path / "frames"), "--out", str(root)])
        assert result.exit_code == 2 and result.output.startswith(f"error: {root}: in use by process {proc.pid}")
        assert len(result.output.strip().splitlines()) == 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with lock_root(root) as lock:  # stale: its holder died without cleaning up
        assert str(os.getpid()) in lock.read_text()


def test_clean_up_removes_only_temporaries_of_dead_writers(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        (tmp_path / "qa").mkdir()
        mine = temp_name(tmp_path / "qa" / "x.jpg")
        other = mine.with_name(mine.name.replace(f".{os.getpid()}-", f".{live.pid}-"))
        gone = mine.with_name(mine.name.replace(f".{os.getpid()}-", f".{dead.pid}-"))
        old_style = tmp_path / ".manifest.abc123.csv.part"
        for p in (mine, other, gone, old_style):
            p.write_bytes(b"x")
        kept = tmp_path / "real.png"
        kept.write_bytes(b"x")
        assert remove_stale_temporaries(tmp_path) == 2
        assert mine.exists() and other.exists() and kept.exists()
        assert not gone.exists() and not old_style.exists()
    finally:
        live.kill()
        live.wait()


def test_files_get_the_permissions_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.csv", "x")
        assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644
        os.umask(0o002)
        write_text_atomic(tmp_path / "b.csv", "x")
        assert stat.S_IMODE((tmp_path / "b.csv").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_a_full_disk_is_one_error_line_and_leaves_nothing(tmp_path, monkeypatch):
    real_replace = os.replace

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(InputError, match=r"x\.csv: no space left on device$"):
        write_text_atomic(tmp_path / "x.csv", "data")
    monkeypatch.setattr(os, "replace", real_replace)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    for where in ("file/x.csv", "file/deeper/x.csv"):
        with pytest.raises(InputError, match=r"file: not a folder"):
            with atomic_path(tmp_path / where):
                pass


def test_paths_from_files_stay_inside_their_root(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (tmp_path / "victim.txt").write_text("keep")
    (root / "a" / "link").symlink_to(tmp_path)
    assert inside(root, "a/x.png") == (root / "a" / "x.png").resolve()
    for bad in ("../victim.txt", str(tmp_path / "victim.txt"), "a/link/victim.txt", "a/../../victim.txt", ""):
        with pytest.raises(InputError, match="outside|not a relative path"):
            inside(root, bad, "manifest.csv row x, input")


def test_derive_seed_is_the_documented_function_of_its_parts():
    expected = int.from_bytes(hashlib.sha256(b"3/syn/clip-000001").digest()[:8], "big") >> 1
    assert derive_seed(3, "syn", "clip-000001") == expected
    assert derive_seed(3, "rain", "clip-000001") != expected


def test_record_store_trusts_a_record_only_under_its_key(tmp_path):
    store = RecordStore(tmp_path / "rec")
    store.put("a", {"fp": [1, 2]}, {"rows": [1]})
    assert store.get("a", {"fp": [1, 2]}) == {"rows": [1]}
    assert store.get("a", {"fp": [1, 3]}) is None and store.get("b", {}) is None
    (tmp_path / "rec" / "a.json").write_text("{cut")
    assert store.get("a", {"fp": [1, 2]}) is None
    with pytest.raises(InputError):
        store.path("../x")


def test_record_store_copies_records_as_they_are_and_reads_indented_or_flat_ones(tmp_path):
    store = RecordStore(tmp_path / "a", indent=1)
    store.put("x", [1], {"v": 2})
    assert store.path("x").read_text().startswith('{\n "data"') and store.get("x", [1]) == {"v": 2}
    other = RecordStore(tmp_path / "b")
    assert store.copy_to("x", other) and other.path("x").read_bytes() == store.path("x").read_bytes()
    assert not store.copy_to("y", other) and other.ids() == ["x"]
    # a record written flat (uhr4k experiment's steps before they were RecordStore records)
    (tmp_path / "a" / "old.json").write_text(json.dumps({"key": {"m": 1}, "psnr": 30.5, "n": 2}, indent=1))
    assert store.get("old", {"m": 1}) is None
    flat = RecordStore(tmp_path / "a", flat=True)
    assert flat.get("old", {"m": 1}) == {"psnr": 30.5, "n": 2} and flat.get("old", {"m": 2}) is None
    assert flat.get("x", [1]) == {"v": 2}


def test_shard_auto_reads_the_schedulers_array_variables():
    from uhr4k.commands.options import parse_shard

    assert parse_shard("auto", environ={}) == (1, 1)
    assert parse_shard("auto", environ={"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4",
                                        "SLURM_ARRAY_TASK_MIN": "0"}) == (1, 4)
    assert parse_shard("auto", environ={"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4",
                                        "SLURM_ARRAY_TASK_MIN": "1"}) == (4, 4)
    assert parse_shard("auto", environ={"RANK": "2", "WORLD_SIZE": "3"}) == (3, 3)
    with pytest.raises(InputError, match="--shard auto: SLURM_ARRAY_TASK_ID=7 is not one of"):
        parse_shard("auto", environ={"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4"})
    with pytest.raises(InputError, match="must be integers"):
        parse_shard("auto", environ={"RANK": "x", "WORLD_SIZE": "2"})


def test_build_syn_shard_auto_builds_the_schedulers_shard(tmp_path):
    import numpy as np

    from uhr4k.core.images import write_image

    rng = np.random.default_rng(0)
    for k in range(3):
        write_image(tmp_path / "frames" / f"p{k}.png", rng.integers(0, 256, (40, 70, 3), np.uint8))
    args = ["build-syn", "--frames", str(tmp_path / "frames"), "--count", "3", "--size", "64x36", "--test", "0",
            "--val", "0", "--subsets", "rain", "--quiet", "--shard", "auto"]
    env = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "0"}
    result = CliRunner(env=env).invoke(cli, [*args, "--out", str(tmp_path / "s2")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s2" / ".uhr4k" / "shard.json").read_text())["shard"] == [2, 2]
