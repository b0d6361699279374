"""The three commands of the README, as a new user types them in a folder holding ``videos/`` and
``raw_pairs/``: build-syn, align, train and bench chain through the default dataset home (./data) and
the default run folder (runs/NAME) without --out, --data or --checkpoint."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import uhr4k.layout.tables as tables
from uhr4k.align.simulate import draw_glass_params, random_homography, simulate_glass_photo
from uhr4k.core.images import write_image
from uhr4k.synth.material import load_photo, make_videos


def _uhr4k(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "UHR4K_DATA"}
    return subprocess.run([sys.executable, "-m", "uhr4k", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _raw_pairs(folder: Path, size=(320, 240)) -> None:
    """Two scenes of two simulated through-glass captures each (glass/ + noglass/ per scene)."""
    import cv2

    w, h = size
    for i, name in enumerate(("coffee", "chelsea")):
        photo = load_photo(name)
        scale = max(1.1 * w / photo.shape[1], 1.1 * h / photo.shape[0])
        scene = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for k in range(2):
            rng = np.random.default_rng([7, i, k])
            glass, background = simulate_glass_photo(scene, random_homography(w, h, rng), draw_glass_params(rng),
                                                     rng, reflection=load_photo("astronaut"), size=(w, h))
            write_image(folder / f"{name}{k}_glass.png", glass)
            write_image(folder / f"{name}{k}_noglass.png", background)


@pytest.mark.slow
def test_three_commands_chain_from_an_empty_folder(tmp_path, shared_data):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(shared_data / "media" / "realshort_320x240.mp4", videos)
    make_videos(videos, (320, 240), n_frames=12)          # two more scenes: test and val take whole scenes
    _raw_pairs(tmp_path / "raw_pairs")

    built = _uhr4k(tmp_path, "build-syn", "--frames", "videos/", "--count", "9", "--size", "160x120",
                   "--test", "2", "--val", "2", "--quiet")
    assert built.returncode == 0, built.stderr
    root = tmp_path / "data" / "UHR4K"
    assert str(root.relative_to(tmp_path)) in built.stdout and "next: `uhr4k align" in built.stdout

    aligned = _uhr4k(tmp_path, "align", "raw_pairs/", "--test", "2")
    assert aligned.returncode == 0, aligned.stderr
    manifest = tables.manifest(root)
    assert set(manifest["subset"]) == {"UHR4K-Syn", "UHR4K-Rain", "UHR4K-Real"}   # one root, one manifest
    assert (manifest["width"] == 160).sum() == 18 and (manifest["split"] == "test").any()

    trained = _uhr4k(tmp_path, "train", "--model", "glsgn", "--width", "4", "--epochs", "1", "--batch", "1",
                     "--crop", "64x64", "--steps-per-epoch", "1", "--perc-weight", "0")
    assert trained.returncode == 0, trained.stderr
    best = tmp_path / "runs" / "glsgn" / "best.pt"
    assert best.is_file()
    log = tables.training_log(tmp_path / "runs" / "glsgn")
    assert log["epoch"].tolist() == [1]

    benched = _uhr4k(tmp_path, "bench", "--model", "glsgn", "--profile-size", "64x64", "--repeats", "1")
    assert benched.returncode == 0, benched.stderr
    assert f"glsgn: weights of {Path('runs') / 'glsgn' / 'best.pt'}" in benched.stdout
    summary = pd.read_csv(tmp_path / "bench-out" / "summary.csv")
    assert sorted(summary["dataset"]) == ["uhr4k-rain", "uhr4k-real", "uhr4k-syn"]
    assert set(summary["model"]) == {"glsgn"} and summary["psnr"].notna().all()
    assert dict(zip(summary["dataset"], summary["protocol"], strict=True)) == {
        "uhr4k-syn": "bandwise", "uhr4k-real": "bandwise", "uhr4k-rain": "y"}


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, private state included, but the lock (its holder's pid and start time)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "lock"}


@pytest.mark.slow
def test_the_notebook_calls_leave_the_dataset_the_commands_leave(tmp_path, monkeypatch):
    """`uhr4k build-syn` and `uhr4k align` typed in a shell, then uhr4k.build_syn and uhr4k.align_pairs in a
    notebook in the same folder, with the same options: the same dataset home to the byte, its card included
    but for the commands it records, which are the Python calls."""
    import uhr4k
    from uhr4k.layout.card import read_card_meta

    videos = tmp_path / "videos"
    videos.mkdir()
    make_videos(videos, (320, 240), n_frames=12)
    _raw_pairs(tmp_path / "raw_pairs")
    built = _uhr4k(tmp_path, "build-syn", "--frames", "videos/", "--count", "6", "--size", "160x120", "--test", "2",
                   "--val", "2", "--quiet", "--license", "cc-by-4.0")
    assert built.returncode == 0, built.stderr
    aligned = _uhr4k(tmp_path, "align", "raw_pairs/", "--test", "2", "--source-license", "raw_pairs=CC0-1.0")
    assert aligned.returncode == 0, aligned.stderr
    root = tmp_path / "data" / "UHR4K"
    by_shell, typed = _files(root), read_card_meta(root)["uhr4k"]["commands"]
    shutil.rmtree(root)

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UHR4K_DATA", raising=False)
    assert uhr4k.build_syn("videos/", count=6, size=(160, 120), test=2, val=2, license="cc-by-4.0").ok
    assert uhr4k.align_pairs("raw_pairs/", test=2, sources={"raw_pairs": "CC0-1.0"}).ok
    by_notebook, called = _files(root), read_card_meta(root)["uhr4k"]["commands"]
    assert called == ["uhr4k.build_syn(frames='videos/', count=6, size=(160, 120), test=2, val=2, seed=0, workers=1, "
                      "shard=(1, 1), subsets=('syn', 'rain'), reflection_model='zhang', license='cc-by-4.0')",
                      "uhr4k.align_pairs(raw_dir='raw_pairs/', test=2, val=20, seed=0, workers=1, method='ours', "
                      "refine='none', min_inliers=50, max_rmse=0.5, sources=[{'name': 'raw_pairs', 'license': "
                      "'CC0-1.0'}])"]
    assert sorted(by_notebook) == sorted(by_shell)
    assert {k for k in by_shell if by_notebook[k] != by_shell[k]} == {"README.md"}
    card = by_shell["README.md"]
    for line, call in zip(typed, called, strict=True):
        card = card.replace(line.encode(), call.encode())
    assert by_notebook["README.md"] == card


def test_bench_without_data_says_where_it_looked(tmp_path):
    result = _uhr4k(tmp_path, "bench", "--model", "identity")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "no dataset found under $UHR4K_DATA=data" in line and "uhr4k build-syn --frames" in line


def test_train_without_data_says_how_to_build_one(tmp_path):
    result = _uhr4k(tmp_path, "train", "--model", "glsgn", "--epochs", "1")
    assert result.returncode == 2
    assert "no dataset to train on: looked for data/UHR4K" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_untrained_model_is_flagged(tmp_path):
    data = tmp_path / "pairs"
    for role in ("input", "target"):
        (data / role).mkdir(parents=True)
        write_image(data / role / "a.png", np.full((24, 24, 3), 90 if role == "input" else 120, np.uint8))
    result = _uhr4k(tmp_path, "bench", "--model", "prenet", "--data", str(data), "--profile-size", "none",
                    "--no-images")
    assert result.returncode == 0, result.stderr
    assert "warning: untrained (random weights): prenet" in result.stdout + result.stderr
