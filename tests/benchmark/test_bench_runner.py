"""The bench runner and `uhr4k bench`: figures against an independent computation, tables, bad input."""
import csv
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

from uhr4k.benchmark.profiling import is_out_of_memory, time_forward
from uhr4k.benchmark.runner import load_dataset, run_benchmark
from uhr4k.benchmark.tiling import tile_starts, tiled_forward
from uhr4k.cli import cli
from uhr4k.core.images import read_image, write_image


def _matlab_y(img):
    """Independent of uhr4k: MATLAB rgb2ycbcr luma via an explicit per-channel sum, rounded."""
    img = img.astype(np.float64)
    return np.round(16.0 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0)


def _independent_y_psnr_ssim(pred, target):
    from scipy.ndimage import correlate1d
    x, y = _matlab_y(pred), _matlab_y(target)
    psnr = 10 * math.log10(255.0 ** 2 / np.mean((x - y) ** 2))
    g = np.exp(-0.5 * (np.arange(-5, 6) / 1.5) ** 2)
    g /= g.sum()

    def f(a):          # 'valid' 11x11 Gaussian filtering
        return correlate1d(correlate1d(a, g, axis=0), g, axis=1)[5:-5, 5:-5]
    mx, my = f(x), f(y)
    vx, vy, vxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = (2 * mx * my + c1) * (2 * vxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return psnr, s.mean()


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_bench_identity_on_rain100h_matches_independent_y_protocol(shared_data, tmp_path):
    data = shared_data / "rain100h-sample"
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["bench", "--model", "identity", "--data", str(data), "--protocol", "y",
                                   "--out", str(out), "--profile-size", "64x48", "--repeats", "1"])
    assert res.exit_code == 0, res.output
    expected = [_independent_y_psnr_ssim(read_image(data / "input" / f"{i}.png"),
                                         read_image(data / "target" / f"{i}.png")) for i in range(1, 11)]
    rows = _read_csv(out / "summary.csv")
    assert list(rows[0]) == ["model", "dataset", "protocol", "n", "psnr", "ssim", "runtime_s", "peak_mem_gb",
                            "precision"]
    assert (rows[0]["model"], rows[0]["protocol"], rows[0]["n"]) == ("identity", "y", "10")
    assert float(rows[0]["psnr"]) == pytest.approx(np.mean([e[0] for e in expected]), abs=1e-6)
    assert float(rows[0]["ssim"]) == pytest.approx(np.mean([e[1] for e in expected]), abs=1e-6)
    per_image = _read_csv(out / "per_image.csv")
    assert len(per_image) == 10 and {r["status"] for r in per_image} == {"ok"}
    assert (out / "images" / "rain100h-sample" / "identity" / "1.png").is_file()
    grid = read_image(out / "grids" / "rain100h-sample" / "1.png")
    assert grid.shape[1] == 2 * 480 + 3 * 6               # "input = identity" | target: no duplicate panel
    assert (out / "plots" / "runtime_psnr_rain100h-sample.svg").is_file() and (out / "report.html").is_file()
    assert "| identity |" in (out / "summary.md").read_text()
    # the identity output is the input, bit for bit
    np.testing.assert_array_equal(read_image(out / "images" / "rain100h-sample" / "identity" / "4.png"),
                                  read_image(data / "input" / "4.png"))


def test_auto_protocols(shared_data, tmp_path, monkeypatch):
    assert load_dataset(str(shared_data / "rain100h-sample")).protocol == "y"
    assert load_dataset(str(shared_data / "reflection-real-sample")).protocol == "bandwise"
    for i in range(2):
        write_image(tmp_path / "train" / "hazy" / f"{i}_hazy.png", np.zeros((16, 16, 3), np.uint8))
        write_image(tmp_path / "train" / "GT" / f"{i}_GT.png", np.zeros((16, 16, 3), np.uint8))
    assert load_dataset(str(tmp_path / "train")).protocol == "rgb"          # "train" is not "rain"
    monkeypatch.setenv("UHR4K_DATA", str(shared_data))
    ds = load_dataset(f"rain100l={shared_data / 'rain100h-sample'}")
    assert (ds.name, ds.protocol, len(ds.pairs)) == ("rain100l", "y", 10)


class _Darken(nn.Module):
    """A model with a parameter and a known effect: output = 0.5 * input."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, x):
        return x * self.scale, x            # tuple: element 0 is the image


def test_runner_with_two_models_and_tiles(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        t = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
        write_image(tmp_path / "set" / "input" / f"{i}.png", t)
        write_image(tmp_path / "set" / "target" / f"{i}.png", t)
    ds = load_dataset(str(tmp_path / "set"), protocol="rgb")
    from uhr4k.models import create_model
    res = run_benchmark({"identity": create_model("identity"), "darken": _Darken()}, [ds], tmp_path / "out",
                        tile=24, overlap=8, profile_size=(32, 24), repeats=2, max_grids=1)
    by_model = {r["model"]: r for r in res.summary}
    assert by_model["identity"]["psnr"] == math.inf and by_model["identity"]["ssim"] == pytest.approx(1.0)
    assert by_model["darken"]["psnr"] < 20
    cx = {r["model"]: r for r in res.complexity}
    assert cx["darken"]["params_m"] == pytest.approx(1e-6) and cx["darken"]["input_size"] == "32x24"
    assert cx["identity"]["runtime_s"] >= 0 and cx["identity"]["status"] == "ok"
    assert len(list((tmp_path / "out" / "grids").rglob("*.png"))) == 1
    assert "inf / 1.000" in (tmp_path / "out" / "summary.md").read_text()
    twice = run_benchmark({"identity": create_model("identity")}, [ds, load_dataset(str(tmp_path / "set"))],
                          tmp_path / "out2", profile_size=None, save_images=False)
    assert [r["dataset"] for r in twice.summary] == ["set", "set-2"]


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    write_image(tmp_path / "set" / "input" / "1.png", np.zeros((10, 12, 3), np.uint8))
    write_image(tmp_path / "set" / "target" / "1.png", np.zeros((10, 14, 3), np.uint8))
    res = CliRunner().invoke(cli, ["bench", "--data", str(tmp_path / "set"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.output.startswith(f"error: {tmp_path / 'set' / 'input' / '1.png'}: input is 12x10 but its target")
    assert "Traceback" not in res.output and not (tmp_path / "o" / "summary.csv").exists()
    (tmp_path / "set" / "target" / "1.png").write_bytes(b"garbage")
    res = CliRunner().invoke(cli, ["bench", "--data", str(tmp_path / "set"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "target/1.png: cannot read image header" in res.output
    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "target").mkdir()
    res = CliRunner().invoke(cli, ["bench", "--data", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no image pairs found" in res.output
    res = CliRunner().invoke(cli, ["bench", "--data", str(tmp_path / "set"), "--model", "nosuchnet"])
    assert res.exit_code == 2 and "unknown model 'nosuchnet'" in res.output


def test_out_of_memory_is_a_result(tmp_path):
    class Hungry(nn.Module):
        def forward(self, x):
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
    timing = time_forward(Hungry(), torch.zeros(1, 3, 8, 8))
    assert timing.oom and math.isnan(timing.median_s)
    assert is_out_of_memory(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    t = np.zeros((16, 16, 3), np.uint8)
    write_image(tmp_path / "s" / "input" / "a.png", t)
    write_image(tmp_path / "s" / "target" / "a.png", t)
    res = run_benchmark({"hungry": Hungry()}, [load_dataset(str(tmp_path / "s"))], tmp_path / "o", profile_size=None)
    assert res.per_image[0]["status"] == "out of memory"
    assert res.summary[0]["n"] == 0 and math.isnan(res.summary[0]["psnr"])


def test_time_forward_reports_median_of_repeats():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x
    timing = time_forward(Counting(), torch.zeros(1, 3, 4, 4), warmup=2, repeats=5)
    assert len(calls) == 7 and timing.runs == 5 and timing.min_s <= timing.median_s <= timing.max_s
    assert timing.peak_mem_bytes > 0


def test_tiled_forward_is_exact_for_pointwise_models_and_close_for_local_ones():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 70, 90)
    pointwise = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        torch.testing.assert_close(tiled_forward(pointwise, x, tile=32, overlap=8), pointwise(x), atol=1e-6, rtol=0)
        local = nn.Conv2d(3, 3, 3, padding=1)
        full = local(x)
        blended = tiled_forward(local, x, tile=32, overlap=8)
        seams = tiled_forward(local, x, tile=32, overlap=0)
    assert (blended - full).abs().mean() < (seams - full).abs().mean()
    assert tile_starts(90, 32, 8) == [0, 24, 48, 58] and tile_starts(20, 32, 8) == [0]
    with pytest.raises(ValueError, match=r"\(3, 70, 90\)"):
        tiled_forward(pointwise, x[0], 32, 8)


@pytest.mark.slow
def test_bench_from_a_checkpoint_and_of_the_wrong_model(tmp_path):
    from uhr4k.models import create_model
    from uhr4k.models.weights.checkpoint import save_checkpoint
    torch.manual_seed(0)
    kwargs = {"stages": 2, "res_blocks": 1}            # a small configuration: the test is about the plumbing
    model = create_model("prenet", **kwargs)
    ckpt = save_checkpoint(tmp_path / "prenet.pt", model, None, 3, {"model": "prenet", "kwargs": kwargs})
    rng = np.random.default_rng(1)
    for i in range(2):
        write_image(tmp_path / "set" / "input" / f"{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        write_image(tmp_path / "set" / "target" / f"{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["bench", "--model", "identity", "--checkpoint", f"prenet={ckpt}",
                                   "--data", str(tmp_path / "set"), "--out", str(out),
                                   "--profile-size", "32x24", "--repeats", "1", "--no-images"])
    assert res.exit_code == 0, res.output
    rows = {r["model"]: r for r in _read_csv(out / "summary.csv")}
    assert set(rows) == {"identity", "prenet"} and rows["prenet"]["n"] == "2"
    # the checkpoint's weights were used: the score equals that of the saved model, evaluated here
    from uhr4k.benchmark import metrics
    with torch.no_grad():
        scores = []
        for i in range(2):
            x = torch.from_numpy(read_image(tmp_path / "set" / "input" / f"{i}.png")).permute(2, 0, 1)[None] / 255
            y = model.eval()(x)
            y = y[0] if isinstance(y, (tuple, list)) else y
            pred = metrics.quantize(y[0]).to(torch.uint8).permute(1, 2, 0).numpy()
            scores.append(metrics.psnr(pred, read_image(tmp_path / "set" / "target" / f"{i}.png"), "rgb"))
    assert float(rows["prenet"]["psnr"]) == pytest.approx(np.mean(scores), abs=1e-6)
    cx = {r["model"]: r for r in _read_csv(out / "complexity.csv")}
    assert float(cx["prenet"]["params_m"]) == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6)
    res = CliRunner().invoke(cli, ["bench", "--checkpoint", f"glsgn={ckpt}", "--data", str(tmp_path / "set")])
    assert res.exit_code == 2
    assert res.output.strip() == f"error: {ckpt}: checkpoint holds model 'prenet', not 'glsgn'"


def test_uhr4k_root_protocol_follows_its_subset(tmp_path):
    from uhr4k import layout
    for sub in ("rain", "syn"):
        paths = layout.pair_paths(sub, "test", "a")
        write_image(tmp_path / sub / paths["input"], np.zeros((16, 16, 3), np.uint8))
        write_image(tmp_path / sub / paths["target"], np.zeros((16, 16, 3), np.uint8))
    rain = load_dataset(str(tmp_path / "rain"))                   # a root holding only UHR4K-Rain
    assert (rain.name, rain.protocol) == ("rain-rain", "y")
    syn = load_dataset(str(tmp_path / "syn"), subset="UHR4K-Syn")
    assert (syn.name, syn.protocol) == ("syn-syn", "bandwise")
