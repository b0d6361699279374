"""Execution switches of bench (precision, channels_last, compile): what runs, what the tables say."""
import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from uhr4k.benchmark import report
from uhr4k.benchmark.runner import load_dataset, run_benchmark
from uhr4k.cli import cli
from uhr4k.core.errors import InputError
from uhr4k.core.images import write_image
from uhr4k.core.speed import Speed, SpeedWrapper


class _Probe(nn.Module):
    """A 3x3 convolution that records the dtype and memory layout its input arrives in."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.mul_(0.1)
            self.conv.bias.zero_()
        self.seen = []

    def forward(self, x):
        residual = self.conv(x)
        self.seen.append((residual.dtype, x.is_contiguous(memory_format=torch.channels_last)))
        return x + residual


@pytest.fixture
def image_set(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        target = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
        noisy = np.clip(target + rng.normal(0, 8, target.shape), 0, 255).astype(np.uint8)
        write_image(tmp_path / "set" / "input" / f"{i}.png", noisy)
        write_image(tmp_path / "set" / "target" / f"{i}.png", target)
    return load_dataset(str(tmp_path / "set"), protocol="rgb")


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_speed_labels_and_bad_precision():
    assert Speed().label == "fp32"
    assert Speed("bf16", channels_last=True, compile=True).label == "bf16+channels_last+compile"
    with pytest.raises(ValueError, match="fp32, bf16, fp16"):
        Speed("int8")


def test_wrapper_runs_under_autocast_in_channels_last_and_returns_fp32():
    probe = _Probe()
    x = torch.rand(1, 3, 8, 8)
    out = SpeedWrapper(probe, Speed("bf16", channels_last=True))(x)
    assert probe.seen == [(torch.bfloat16, True)] and out.dtype == torch.float32
    assert probe.conv.weight.is_contiguous(memory_format=torch.channels_last)
    reference = x + probe.conv(x)
    assert 0 < (out - reference).abs().max() < 2e-2    # bf16 rounding, nothing worse


def test_bf16_bench_is_labelled_and_apart_from_fp32(image_set, tmp_path):
    fp32 = run_benchmark({"probe": _Probe()}, [image_set], tmp_path / "fp32", profile_size=(32, 24), repeats=1,
                         save_images=False)
    bf16 = run_benchmark({"probe": _Probe()}, [image_set], tmp_path / "bf16", profile_size=(32, 24), repeats=1,
                         save_images=False, precision="bf16", channels_last=True)
    a, b = fp32.summary[0], bf16.summary[0]
    assert (a["precision"], b["precision"]) == ("fp32", "bf16")
    assert b["psnr"] == pytest.approx(a["psnr"], abs=0.2) and b["psnr"] != a["psnr"]
    assert {r["precision"] for r in _read_csv(tmp_path / "bf16" / "per_image.csv")} == {"bf16"}
    assert "| probe (bf16) |" in (tmp_path / "bf16" / "summary.md").read_text()
    assert "| probe |" in (tmp_path / "fp32" / "summary.md").read_text()
    row = _read_csv(tmp_path / "bf16" / "complexity.csv")[0]
    assert (row["precision"], row["channels_last"], row["compile"]) == ("bf16", "True", "False")
    assert "bf16+channels_last" in (tmp_path / "bf16" / "complexity.md").read_text()
    # tables put together still keep the two apart
    md = report.summary_markdown(fp32.summary + bf16.summary)
    assert "| probe |" in md and "| probe (bf16) |" in md


def test_bad_precision_is_an_input_error(image_set, tmp_path):
    with pytest.raises(InputError, match="--precision.*fp32, bf16, fp16"):
        run_benchmark({"probe": _Probe()}, [image_set], tmp_path / "out", precision="half")


@pytest.mark.slow
def test_compiled_bench_matches_eager(image_set, tmp_path, monkeypatch):
    """--compile goes through torch.compile with frozen weights; the eager backend (dynamo's tracing without
    inductor's C++ build, which takes over a minute here) keeps the test fast."""
    compiled_models, compiled_calls = [], []
    real_compile = torch.compile

    def compile_eagerly(model, **kwargs):
        compiled_models.append(model)
        assert kwargs == {"options": {"freezing": True}}      # inference: weights folded in as constants
        compiled = real_compile(model, backend="eager", fullgraph=True)
        compiled.register_forward_pre_hook(lambda module, args: compiled_calls.append(1))
        return compiled

    monkeypatch.setattr(torch, "compile", compile_eagerly)
    eager = run_benchmark({"probe": _Probe()}, [image_set], tmp_path / "eager", profile_size=None, save_images=False)
    compiled = run_benchmark({"probe": _Probe()}, [image_set], tmp_path / "compiled", profile_size=None,
                             save_images=False, compile=True)
    assert len(compiled_models) == 1 and isinstance(compiled_models[0], _Probe)
    assert len(compiled_calls) == len(image_set.pairs)     # every image went through the compiled module
    assert compiled.summary[0]["psnr"] == pytest.approx(eager.summary[0]["psnr"], abs=1e-3)
    assert _read_csv(tmp_path / "compiled" / "complexity.csv")[0]["compile"] == "True"


def test_cli_precision_option(image_set, tmp_path):
    result = CliRunner().invoke(cli, ["bench", "--data", str(tmp_path / "set"), "--protocol", "rgb", "--out",
                                      str(tmp_path / "cli"), "--profile-size", "none", "--precision", "bf16",
                                      "--channels-last", "--no-images"])
    assert result.exit_code == 0, result.output
    assert "scores under bf16 are not fp32 scores" in result.output
    assert {r["precision"] for r in _read_csv(tmp_path / "cli" / "summary.csv")} == {"bf16"}
    bad = CliRunner().invoke(cli, ["bench", "--data", str(tmp_path / "set"), "--precision", "fp8"])
    assert bad.exit_code == 2 and "fp8" in bad.output


def test_to_float32_keeps_named_tuples():
    from collections import namedtuple

    from uhr4k.core.speed import to_float32

    Output = namedtuple("Output", ["background", "reflection"])
    out = to_float32(Output(torch.ones(1, dtype=torch.bfloat16), [torch.zeros(1, dtype=torch.float16)]))
    assert type(out) is Output and out.background.dtype == torch.float32 and out.reflection[0].dtype == torch.float32
