"""build-syn and merge against what an adversarial user does: replaced inputs, cut videos, colliding names,
transient failures, a split moved by `uhr4k split`, leftovers of kills, hostile shard files."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from skimage import data

from uhr4k import layout
from uhr4k.cli import cli
from uhr4k.core.errors import InputError
from uhr4k.core.images import write_image
from uhr4k.core.video import probe_video
from uhr4k.data.splits import split_dataset
from uhr4k.synth import frames as frames_module
from uhr4k.synth.merge import merge_shards
from uhr4k.synth.pipeline import BuildOptions, build_syn

from synth_material import pan_frames, write_video

SIZE = (64, 36)


def options(frames, out, reflections=None, **kw):
    base = dict(frames=frames, reflections=reflections, out=out, count=6, size=SIZE, test=1, val=1, seed=1)
    base.update(kw)
    return BuildOptions(**base)


def copy_media(media, tmp_path) -> tuple[Path, Path]:
    frames, refl = tmp_path / "frames", tmp_path / "refl"
    shutil.copytree(media / "frames", frames)
    shutil.copytree(media / "reflections", refl)
    return frames, refl


def test_a_replaced_reflection_photo_remakes_exactly_the_samples_that_depend_on_it(media, tmp_path):
    from uhr4k.synth import pipeline

    frames, refl = copy_media(media, tmp_path)
    write_image(refl / "hubble.png", data.hubble_deep_field()[:300, :400])
    write_image(refl / "coins.png", data.astronaut()[::2, ::2])
    out = tmp_path / "out"
    opts = options(frames, out, refl, subsets=("syn",))
    build_syn(opts, progress=False)
    before = {r["id"]: r["sha256_input"] for r in layout.read_manifest(out)}
    name = "cat.jpg"
    write_image(refl / name, np.ascontiguousarray(data.rocket()[::-1]))  # same name, another photo
    tasks, *_ = pipeline.plan(opts, progress=False)
    dependent = {t["id"] for t in tasks if any(ref["rel"] == name for ref in t["syn"]["reflections"])}
    assert 0 < len(dependent) < len(tasks)
    summary = build_syn(options(frames, out, refl, subsets=("syn",)), progress=False)
    assert summary.made == len(dependent) and summary.reused == len(tasks) - len(dependent)
    after = {r["id"]: (r["sha256_input"], json.loads(r["params"])["reflection"]) for r in layout.read_manifest(out)}
    assert all(after[i][0] != before[i] for i in dependent if after[i][1] == name)
    assert all(after[i][0] == before[i] for i in after if i not in dependent)


@pytest.mark.parametrize("name,extra", [("fast.mp4", ["-movflags", "+faststart"]), ("cut.mkv", [])])
def test_a_streamable_video_cut_in_half_is_a_failure_naming_it(media, tmp_path, name, extra):
    import imageio_ffmpeg

    frames = tmp_path / "frames"
    shutil.copytree(media / "frames", frames)
    video = frames / name
    writer = imageio_ffmpeg.write_frames(str(video), (160, 96), fps=10, codec="libx264", quality=9,
                                         macro_block_size=16, output_params=["-g", "8", *extra])
    writer.send(None)
    for f in pan_frames(data.astronaut(), 40):
        writer.send(np.ascontiguousarray(f))
    writer.close()
    assert probe_video(video)[0] == 40
    whole = video.read_bytes()
    video.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="truncated video"):
        probe_video(video)
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(frames), "--out", str(tmp_path / "o"),
                                      "--count", "4", "--size", "64x36", "--quiet"])
    assert result.exit_code == 1 and f"failed: {video}: truncated video" in result.output
    assert name in (tmp_path / "o" / "failures.csv").read_text()


def test_an_image_named_like_a_video_frame_gets_its_own_id(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    write_video(frames / "clip.mp4", pan_frames(data.astronaut(), 20))
    write_video(frames / "other.mp4", pan_frames(data.coffee(), 20))
    write_image(frames / "clip-000009.png", np.ascontiguousarray(pan_frames(data.rocket(), 1)[0]))
    out = tmp_path / "out"
    summary = build_syn(options(frames, out, count=20, test=0, val=0, subsets=("rain",)), progress=False)
    rows = layout.read_manifest(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == summary.rows and not summary.failures
    assert any(r["source"] == "clip-000009.png" for r in rows) and "clip-000009-x" in ids
    again = build_syn(options(frames, out, count=20, test=0, val=0, subsets=("rain",)), progress=False)
    assert again.reused == summary.rows


def test_a_transient_source_failure_is_retried(media, tmp_path, monkeypatch):
    frames, _ = copy_media(media, tmp_path)
    out = tmp_path / "out"
    real = frames_module.probe_video

    def busy(path):
        if Path(path).name == "coffee.mp4":
            raise InputError("cannot read video (Resource temporarily unavailable)", path)
        return real(path)

    monkeypatch.setattr(frames_module, "probe_video", busy)
    first = build_syn(options(frames, out, subsets=("rain",)), progress=False)
    assert any("coffee.mp4" in f.file for f in first.failures)
    monkeypatch.undo()
    second = build_syn(options(frames, out, subsets=("rain",)), progress=False)
    assert not second.failures
    assert any(r["source"].startswith("coffee.mp4") for r in layout.read_manifest(out))


def test_a_rerun_keeps_the_splits_uhr4k_split_applied(media, tmp_path):
    frames, refl = copy_media(media, tmp_path)
    out = tmp_path / "out"
    build_syn(options(frames, out, refl), progress=False)
    split_dataset(out, seed=5, apply=True)
    moved = {(r["subset"], r["id"]): r["split"] for r in layout.read_manifest(out)}
    summary = build_syn(options(frames, out, refl), progress=False)
    assert summary.made == 0 and summary.reused == 6
    assert {(r["subset"], r["id"]): r["split"] for r in layout.read_manifest(out)} == moved
    assert not any("not in the manifest" in m for m in summary.messages)


def test_leftovers_of_killed_runs_are_removed_everywhere_but_a_live_runs_are_kept(media, tmp_path):
    frames, refl = copy_media(media, tmp_path)
    out = tmp_path / "out"
    build_syn(options(frames, out, refl), progress=False)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = [out / ".manifest.abcdef12.csv.part", out / ".preview.4194304-0badf00d.jpg.part",
                out / "UHR4K-Syn" / "test" / "input" / ".x.4194304-0badf00d.png.part"]
        alive = out / "UHR4K-Rain" / "train" / "input" / f".y.{live.pid}-0badf00d.png.part"
        for p in [*dead, alive]:
            p.write_bytes(b"half")
        build_syn(options(frames, out, refl), progress=False)
        assert not any(p.exists() for p in dead) and alive.exists()
    finally:
        live.kill()
        live.wait()


@pytest.mark.slow
@pytest.mark.slow
def test_a_killed_worker_neither_hangs_build_syn_nor_changes_the_result(media, tmp_path):
    """kill -9 of a worker process of a real `uhr4k build-syn --workers 2`: the run ends (exit 1 naming
    the sample, or 0 when the worker died idle), and a rerun gives the bytes of an undisturbed build."""
    frames, refl = copy_media(media, tmp_path)
    args = ["--frames", str(frames), "--reflections", str(refl), "--count", "6", "--size", "64x36",
            "--test", "1", "--val", "1", "--seed", "1", "--quiet", "--workers", "2"]
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "uhr4k", "build-syn", *args, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        for child in _children(proc.pid):
            if "spawn_main" in _cmdline(child):
                os.kill(child, signal.SIGKILL)
                killed = child
                break
        time.sleep(0.02)
    output, _ = proc.communicate(timeout=120)
    assert killed is not None, output
    assert proc.returncode in (0, 1) and "Traceback" not in output, output
    if proc.returncode == 1:
        assert "worker process died with SIGKILL" in output
    assert subprocess.run([sys.executable, "-m", "uhr4k", "build-syn", *args, "--out", str(out)],
                          capture_output=True).returncode == 0
    reference = tmp_path / "reference"
    assert subprocess.run([sys.executable, "-m", "uhr4k", "build-syn", *args, "--out", str(reference)],
                          capture_output=True).returncode == 0
    assert _tree(out) == _tree(reference)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _tree(root: Path) -> dict[str, bytes]:
    """Every file but the private state and the dataset card (which quotes the command, --out included)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".uhr4k" not in p.parts and p.name != "README.md"}


def test_merge_refuses_hostile_or_damaged_shards_and_leaves_out_untouched(media, tmp_path):
    frames, refl = copy_media(media, tmp_path)
    shards = []
    for i in (1, 2):
        shards.append(tmp_path / f"s{i}")
        build_syn(options(frames, shards[-1], refl, shard=(i, 2)), progress=False)
    out = tmp_path / "merged"
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    manifest = shards[0] / "manifest.csv"
    original = manifest.read_text()
    first_input = layout.read_manifest(shards[0])[0]["input"]
    manifest.write_text(original.replace(first_input, "../victim.png"))
    with pytest.raises(InputError, match="leads outside"):
        merge_shards(shards, out)
    assert not out.exists() and victim.read_bytes() == b"precious"
    manifest.write_text(original)
    # a damaged file: nothing placed, no manifest-less files left in out
    damaged = shards[1] / layout.read_manifest(shards[1])[-1]["target"]
    keep = damaged.read_bytes()
    damaged.write_bytes(keep[:-10] + b"0123456789")
    with pytest.raises(InputError, match="checksum differs"):
        merge_shards(shards, out)
    assert not out.exists()
    damaged.write_bytes(keep)
    runner = CliRunner()
    state = shards[1] / ".uhr4k" / "shard.json"
    state_text = state.read_text()
    state.write_text("{not json")
    result = runner.invoke(cli, ["merge", *map(str, shards), "--out", str(out)])
    assert result.exit_code == 2 and result.output.startswith(f"error: {state}: unreadable")
    state.write_text(state_text.replace('"ids": [', '"ids": ["../../escape", '))
    result = runner.invoke(cli, ["merge", *map(str, shards), "--out", str(out)])
    assert result.exit_code == 2 and "damaged shard state" in result.output
    state.unlink()
    result = runner.invoke(cli, ["merge", *map(str, shards), "--out", str(out)])
    assert result.exit_code == 2 and "not a build-syn output" in result.output
    state.write_text(state_text)
    result = runner.invoke(cli, ["merge", str(tmp_path / "nowhere"), "--out", str(out)])
    assert result.exit_code == 2 and "no such folder" in result.output
    (shards[0] / ".uhr4k" / "build.json").unlink()
    result = runner.invoke(cli, ["merge", *map(str, shards), "--out", str(out)])
    assert result.exit_code == 2 and "build.json" in result.output and "Traceback" not in result.output
    assert not out.exists()
    file_out = tmp_path / "file"
    file_out.write_text("x")
    result = runner.invoke(cli, ["merge", str(shards[0]), "--out", str(file_out)])
    assert result.exit_code == 2 and "is a file" in result.output
    result = runner.invoke(cli, ["build-syn", "--frames", str(frames), "--out", str(file_out)])
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in result.output


def test_an_empty_dataset_fails_and_passed_over_files_are_counted_once(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    write_video(frames / "night.mp4", [np.zeros((96, 160, 3), np.uint8)] * 12)   # all black
    (frames / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (frames / "loop.png").symlink_to(frames / "loop.png")
    (frames / ".hidden.png").write_bytes(b"x")
    (frames / "notes.txt").write_text("x")
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(frames), "--out", str(tmp_path / "o"),
                                      "--count", "3", "--size", "64x36", "--quiet", "--subsets", "rain"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"failed: {frames}: no usable background (" in result.output and "black" in result.output
    skipped = [line for line in result.output.splitlines() if "skipped 4 file(s)" in line]
    assert len(skipped) == 1, result.output
    for reason in ("broken symlink: 1", "symlink loop: 1", "hidden file: 1", "file of another type: 1"):
        assert reason in skipped[0]


@pytest.mark.slow
def test_a_full_disk_stops_with_one_line_and_a_rerun_completes(media, tmp_path, monkeypatch):
    frames, refl = copy_media(media, tmp_path)
    args = ["build-syn", "--frames", str(frames), "--reflections", str(refl), "--count", "6", "--size", "64x36",
            "--test", "1", "--val", "1", "--seed", "1", "--quiet"]
    out = tmp_path / "out"
    real_replace = os.replace
    calls = {"n": 0}

    def filling_disk(src, dst):
        calls["n"] += 1
        if calls["n"] > 12:          # the disk fills up in the middle of the samples
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", filling_disk)
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    monkeypatch.undo()
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1].endswith(": no space left on device")
    assert result.output.count("error: ") == 1 and str(out) in result.output
    assert not list(out.rglob("*.part")) and not (out / "manifest.csv").exists()
    assert CliRunner().invoke(cli, [*args, "--out", str(out)]).exit_code == 0      # space freed: completes
    assert CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "ref")]).exit_code == 0
    assert _tree(out) == _tree(tmp_path / "ref")
