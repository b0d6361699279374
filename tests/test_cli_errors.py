"""Inputs and options a user can give: one line naming the file or option, exit 2, never a traceback;
and bench's checks of the files a UHR4K manifest vouches for."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from uhr4k import layout
from uhr4k.cli import cli
from uhr4k.core.images import write_image

pytestmark = pytest.mark.usefixtures("one_thread")


def png_bomb(path: Path, width=100000, height=100000) -> Path:
    """A valid PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 49))
                     + chunk(b"IEND", b""))
    return path


def uhr4k_root(root: Path, n=2, size=32, splits=("test",)) -> Path:
    """A UHR4K-Syn root of ``n`` pairs per split, with its manifest (checksums included)."""
    rng = np.random.default_rng(0)
    rows = []
    for split in splits:
        for i in range(n):
            paths = layout.pair_paths("syn", split, f"{split}{i}")
            target = rng.integers(0, 256, (size, size, 3), np.uint8)
            noisy = np.clip(target.astype(int) + rng.integers(-20, 21, target.shape), 0, 255).astype(np.uint8)
            sha_in, sha_t = write_image(root / paths["input"], noisy), write_image(root / paths["target"], target)
            rows.append(layout.make_row(id=f"{split}{i}", subset="UHR4K-Syn", split=split, scene=f"s{i}",
                                        sha256_input=sha_in, sha256_target=sha_t, input=paths["input"],
                                        target=paths["target"]))
    layout.write_manifest(root, rows)
    return root


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    assert result.output.count("error: ") == 1, result.output
    text = result.output[result.output.index("error: "):].strip()   # progress bars may precede it
    assert len(text.splitlines()) == 1, result.output
    for needle in needles:
        assert needle in text, (needle, text)


def bench(root, out, *more):
    return CliRunner().invoke(cli, ["bench", "--data", str(root), "--subset", "syn", "--out", str(out),
                                    "--profile-size", "none", "--no-images", *more])


def test_bench_refuses_a_file_the_manifest_disowns(tmp_path):
    root = uhr4k_root(tmp_path / "root")
    assert bench(root, tmp_path / "b1").exit_code == 0
    target = root / layout.read_manifest(root)[0]["target"]
    write_image(target, np.zeros((32, 32, 3), np.uint8))   # another valid PNG under the same name
    one_line_error(bench(root, tmp_path / "b2"), str(target), "checksum differs")


def test_bench_refuses_an_out_inside_the_dataset(tmp_path):
    root = uhr4k_root(tmp_path / "root")
    one_line_error(bench(root, root / "bench-out"), "--out must not lie inside the dataset folder")
    assert not (root / "bench-out").exists()


@pytest.mark.parametrize("size", [1, 5])
def test_bench_on_pairs_smaller_than_the_ssim_window_says_so(tmp_path, size):
    root = uhr4k_root(tmp_path / "root", size=size)
    one_line_error(bench(root, tmp_path / "b"), f"{size}x{size} is smaller than SSIM's 11x11 window")


def test_bench_finds_a_truncated_or_bomb_image_before_any_model_runs(tmp_path):
    root = uhr4k_root(tmp_path / "root")
    rows = layout.read_manifest(root)
    cut = root / rows[1]["input"]
    cut.write_bytes(cut.read_bytes()[:-30])
    one_line_error(bench(root, tmp_path / "b"), str(cut), "truncated")
    assert not (tmp_path / "b").exists(), "nothing written before the check"
    png_bomb(cut)
    one_line_error(bench(root, tmp_path / "b"), str(cut), "decompression bomb")


@pytest.mark.parametrize("args,needle", [
    (["--tile", "-5"], "--tile"), (["--tile", "0"], "--tile"), (["--tile", "64", "--overlap", "64"], "--overlap"),
    (["--repeats", "0"], "--repeats"), (["--device", "bogus"], "--device"),
])
def test_bench_options_are_checked_before_anything_runs(tmp_path, args, needle):
    root = uhr4k_root(tmp_path / "root")
    result = bench(root, tmp_path / "b", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output and needle in result.output, result.output
    assert not (tmp_path / "b").exists()


def test_the_image_readers_name_a_decompression_bomb(tmp_path):
    from uhr4k.core.errors import InputError
    from uhr4k.core.images import read_image
    from uhr4k.data.cache import build_cache

    bomb = png_bomb(tmp_path / "set" / "input" / "a.png")
    with pytest.raises(InputError, match=r"a\.png: its header claims more than 2\^30 pixels"):
        read_image(bomb)
    summary = build_cache(tmp_path / "set")
    assert summary.failures and "decompression bomb" in summary.failures[0] and str(bomb) in summary.failures[0]


def train(root, out, *more):
    return CliRunner().invoke(cli, ["train", "--data", str(root), "--subset", "syn", "--out", str(out),
                                    "--epochs", "1", "--batch", "1", "--crop", "32x32", "--width", "2",
                                    "--model-arg", "mask_width=2", "--perc-weight", "0", "--adv-weight", "0",
                                    "--val-split", "none", *more])


@pytest.mark.parametrize("args,needle", [
    (["--workers", "-1"], "--workers"), (["--width", "0"], "--width"), (["--device", "bogus"], "--device"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch"), (["--epochs", "0"], "--epochs"),
])
def test_train_options_are_checked_by_the_command_line(tmp_path, args, needle):
    root = uhr4k_root(tmp_path / "root", splits=("train",))
    result = train(root, tmp_path / "run", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output and needle in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_unknown_model_arguments_list_the_accepted_ones(tmp_path):
    root = uhr4k_root(tmp_path / "root", splits=("train",))
    one_line_error(train(root, tmp_path / "run", "--model-arg", "bogus=1"),
                   "model 'glsgn' takes no argument 'bogus'; it accepts:", "mask_width", "width")
    result = CliRunner().invoke(cli, ["train", "--model", "dcp", "--width", "4", "--data", str(root), "--subset",
                                      "syn", "--out", str(tmp_path / "run2")])
    one_line_error(result, "model 'dcp' takes no argument 'width'")


def test_a_checkpoint_config_with_an_unknown_argument_names_the_file(tmp_path):
    import torch

    from uhr4k.core.errors import InputError
    from uhr4k.models import create_model
    from uhr4k.models.factory import load_model
    from uhr4k.models.weights.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "x.pt", create_model("glsgn", width=2, mask_width=2), None, 1,
                           {"model": "glsgn", "kwargs": {"width": 2, "mask_width": 2, "bogus": 3}})
    with pytest.raises(InputError, match=rf"{path}: config: model 'glsgn' takes no argument 'bogus'"):
        load_model(path)
    assert torch.load(path, weights_only=True)["config"]["kwargs"]["bogus"] == 3


def test_train_on_a_damaged_image_with_loader_workers_is_one_line(tmp_path):
    root = uhr4k_root(tmp_path / "root", splits=("train",))
    damaged = root / layout.read_manifest(root)[0]["target"]
    damaged.write_bytes(b"\x89PNG not really")
    (root / "manifest.csv").unlink()   # no checksums: the decoder itself, in a loader worker, finds it
    result = train(root, tmp_path / "run", "--workers", "1")
    one_line_error(result, str(damaged))


def test_bench_writes_scores_before_a_late_failure(tmp_path, monkeypatch):
    from uhr4k.benchmark import runner

    root = uhr4k_root(tmp_path / "root")

    def failing_profile(*args, **kwargs):
        raise RuntimeError("the profile failed after every image was scored")

    monkeypatch.setattr(runner, "_complexity", failing_profile)
    with pytest.raises(RuntimeError, match="the profile failed after every image was scored"):
        runner.run_benchmark({"identity": runner_identity()}, [runner.load_dataset(str(root), subset="syn")],
                             tmp_path / "b", save_images=False, profile_size=None)
    assert (tmp_path / "b" / "per_image.csv").read_text().count("\n") == 3   # header + 2 pairs
    assert (tmp_path / "b" / "summary.csv").is_file()


def runner_identity():
    from uhr4k.models import create_model

    return create_model("identity")
