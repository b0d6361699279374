"""The benchmark's page: regions chosen where models differ, plots with the right axes, the page built from
tables alone, and the page of a real tiny benchmark opened in headless Chromium."""
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from page_parser import parse_page
from torch import nn

from uhr4k.benchmark import comparison, plots
from uhr4k.benchmark.html_report import write_bench_report
from uhr4k.benchmark.paper_figures import published
from uhr4k.benchmark.runner import load_dataset, merge_identical, run_benchmark
from uhr4k.core.images import read_image, write_image
from uhr4k.experiments.published import paper_figures

from browser_check import check_page, find_browser, in_ci

# ------------------------------------------------------------------------------ regions and panels


def test_regions_land_where_the_errors_disagree():
    h, w = 120, 200
    agree = np.full((h, w), 10.0, np.float32)
    differs = agree.copy()
    differs[70:100, 150:180] = 90.0             # one model fails here
    differs[5:25, 10:30] = 60.0                 # and, less, here
    regions = comparison.pick_regions([agree, differs], side=30, count=2)
    assert (regions[0].x, regions[0].y, regions[0].side) == (150, 70, 30)
    assert regions[0].score == pytest.approx(80.0)
    second = regions[1]
    assert second.x <= 10 <= second.x + 30 and second.y <= 5 <= second.y + 30       # covers the second patch
    # a uniform offset between the models is no disagreement: only the difference of errors counts
    assert comparison.pick_regions([agree, agree + 5], side=30)[0].score == pytest.approx(5.0)
    # windows never overlap, and never leave the image
    many = comparison.pick_regions([agree, differs], side=50, count=3)
    for i, a in enumerate(many):
        assert 0 <= a.x <= w - 50 and 0 <= a.y <= h - 50
        for b in many[i + 1:]:
            assert abs(a.x - b.x) >= 50 or abs(a.y - b.y) >= 50
    assert comparison.crop_side(2160, 3840, 5) == 232 and comparison.crop_side(96, 128, 5) == 48


def test_identical_outputs_share_a_panel():
    a, b = np.zeros((4, 4, 3), np.uint8), np.ones((4, 4, 3), np.uint8)
    shown = [{"name": "input", "image": a}, {"name": "identity", "image": a.copy()}, {"name": "net", "image": b},
             {"name": "oom", "image": None}]
    assert [e["name"] for e in merge_identical(shown)] == ["input = identity", "net", "oom"]
    # names that hold " = " themselves (Figure 9's rows "N = 1", ...) stay whole: the panel lists them
    rows = merge_identical([{"name": "N = 1", "image": b}, {"name": "N = 2", "image": b.copy()},
                            {"name": "N = 3", "image": a}])
    assert [e["names"] for e in rows] == [["N = 1", "N = 2"], ["N = 3"]]


# ----------------------------------------------------------------------------------------- plots


def _summary(times, psnrs, dataset="set"):
    return [{"model": f"m{i}", "dataset": dataset, "protocol": "y", "n": 2, "psnr": p, "ssim": 0.9,
             "runtime_s": t, "peak_mem_gb": 0.1} for i, (t, p) in enumerate(zip(times, psnrs, strict=True))]


def test_runtime_axis_is_logarithmic_only_where_it_helps(tmp_path):
    wide = plots.runtime_psnr(_summary([0.01, 0.5, 3.0], [28.0, 30.0, 31.0]), "set")
    assert wide.axes[0].get_xscale() == "log"
    close = plots.runtime_psnr(_summary([0.2, 0.3], [28.0, 30.0]), "set")
    assert close.axes[0].get_xscale() == "linear" and close.axes[0].get_xlim() == pytest.approx((0, 0.375))
    # one model: a linear axis from 0, not a 6e-05 ... 1.6e-04 one
    single = plots.runtime_psnr(_summary([1e-4], [25.0]), "set")
    assert single.axes[0].get_xscale() == "linear" and single.axes[0].get_xlim()[0] == 0
    # an infinite PSNR is named, not plotted
    ref = plots.runtime_psnr(_summary([1e-4, 0.2], [math.inf, 25.0]), "set", untrained=["m1"])
    assert "not plotted (PSNR inf or undefined): m0" in [t.get_text() for t in ref.texts]
    paths = plots.save(ref, tmp_path / "plots" / "rt")
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    svg = paths[1].read_text()
    assert "m1 (untrained)" in svg                        # text stays text: searchable, editable
    assert paths[2].read_bytes().startswith(b"%PDF")
    assert read_image(paths[0]).shape[2] == 3
    for fig in (wide, close, single, ref):
        plots.close(fig)


def test_psnr_per_image_draws_every_image():
    rows = [{"model": m, "dataset": "set", "protocol": "rgb", "id": f"img{i}", "psnr": p + i}
            for m, p in (("a", 20.0), ("b", 25.0)) for i in range(4)]
    rows[0]["psnr"] = math.inf
    fig = plots.psnr_per_image(rows, "set")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["img0", "img1", "img2", "img3"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["b"].get_ydata(), [25, 26, 27, 28])
    np.testing.assert_array_equal(lines["a"].get_xdata(), [1, 2, 3])      # img0's inf is a marker at the top
    plots.close(fig)


# ----------------------------------------------------------------------------- the page from tables


def test_paper_figures_match_only_the_papers_test_sets():
    def paper(model, dataset, protocol):
        return published(model, dataset, protocol, paper_figures())

    assert paper("glsgn", "uhr4k-rain", "y") == {"psnr": 32.83, "ssim": 0.938, "source": "paper Table VIII"}
    assert paper("mprnet-derain", "rain100h", "y")["psnr"] == 30.41
    assert paper("glsgn@runs/best.pt", "uhr4k-syn", "bandwise")["psnr"] == 25.96
    assert paper("dcp", "4kid", "rgb")["ssim"] == 0.739
    assert paper("glsgn", "rain100h", "rgb") is None           # another protocol: not the paper's number
    assert paper("glsgn", "mydata-rain", "y") is None          # a home-made root is not the test set
    assert paper("identity", "rain100h", "y") is None
    # read from the experiment files: an ablation row has its table; the main table wins for a repeated row
    assert paper("glsgn-pac", "uhr4k-real", "bandwise")["source"] == "paper Table III"
    assert paper("glsgn", "uhr4k-real", "bandwise") == {"psnr": 24.35, "ssim": 0.841, "source": "paper Table VII"}
    # the benchmark matches the figures it is handed, and shows none without them
    assert published("glsgn", "rain100h", "y", {}) is None


def test_page_is_a_function_of_the_tables(tmp_path):
    import pandas as pd

    summary = _summary([0.5, 1.0], [30.123, 31.0], dataset="rain100h")
    summary[1]["model"] = "glsgn"
    per_image = [{**r, "id": str(i), "status": "ok"} for r in summary for i in range(2)]
    complexity = [{"model": r["model"], "params_m": 1.5, "trainable_params_m": 1.5, "macs_g": 12.34,
                   "input_size": "64x48", "runtime_s": 0.25, "runtime_spread_s": 0.01, "peak_mem_gb": 0.5,
                   "device": "cpu (2 threads)", "status": "ok"} for r in summary]
    # DataFrames (issue 18's runner) and lists of dicts give the same page
    for out, tables in ((tmp_path / "a", (summary, per_image, complexity)),
                        (tmp_path / "b", tuple(pd.DataFrame(t) for t in (summary, per_image, complexity)))):
        write_bench_report(out, *tables, untrained=["m0"], command="uhr4k bench ...",
                           notes=["glsgn: weights of runs/glsgn/best.pt"], paper_figures=paper_figures())
    page_a, page_b = (tmp_path / "a" / "report.html").read_text(), (tmp_path / "b" / "report.html").read_text()
    assert page_a == page_b
    page = parse_page(tmp_path / "a" / "report.html")
    results = next(t for t in page.tables if t["source"] == "summary.csv")["rows"]
    assert results[0] == ["model", "rain100h (y) PSNR / SSIM", "rain100h: paper (its full test set)",
                          "runtime (s/img)"]
    assert results[1] == ["m0", "30.12 / 0.900", "", "0.500"]
    assert results[2] == ["glsgn", "31.00 / 0.900", "30.89 / 0.901 (paper Table VIII)", "1.000"]
    cx = next(t for t in page.tables if t["source"] == "complexity.csv")["rows"]
    assert cx[1][:4] == ["m0", "1.500", "12.3", "64x48"]
    assert len(page.banners) == 1 and "m0" in page_a.split('class="banner"')[1].split("</div>")[0]
    for kind in ("runtime_psnr", "psnr_per_image"):
        assert f"plots/{kind}_rain100h.png" in page.images
        assert f"plots/{kind}_rain100h.svg" in page.links
        assert (tmp_path / "a" / "plots" / f"{kind}_rain100h.pdf").is_file()
    assert "http://" not in page_a and "https://" not in page_a
    assert "Weights: glsgn: weights of runs/glsgn/best.pt." in page_a


def test_bench_hands_the_papers_figures_to_the_page(tmp_path):
    """``uhr4k.bench`` passes the experiment files' figures in: a run on the 4KID preset shows Table IX's."""
    from uhr4k.app.bench import bench

    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(tmp_path / "4KID" / "hazy" / f"{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        write_image(tmp_path / "4KID" / "clear" / f"{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    bench("dcp", f"4kid={tmp_path / '4KID'}", tmp_path / "out", profile_size=None, save_images=False)
    results = next(t for t in parse_page(tmp_path / "out" / "report.html").tables if t["source"] == "summary.csv")
    assert results["rows"][0][:3] == ["model", "4kid (rgb) PSNR / SSIM", "4kid: paper (its full test set)"]
    assert results["rows"][1][0] == "dcp" and results["rows"][1][2] == "13.48 / 0.739 (paper Table IX)"


# ------------------------------------------------------------------------- a real run in a browser


class _Blur(nn.Module):
    """A 3x3 box blur with one learnable gain: a model that differs from the others at edges."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x):
        k = torch.full((3, 1, 3, 3), 1 / 9, dtype=x.dtype)
        return (nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=3)
                * self.gain).clamp(0, 1)


class _Denoise(nn.Module):
    """Pulls the input half way to the target's smooth version: the better model of the three."""

    def forward(self, x):
        return (0.5 * x + 0.5 * nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)).clamp(0, 1)


def _tiny_uhr4k_root(root: Path, n: int = 3, size=(160, 96)):
    """A UHR4K-Rain test split made from scikit-image's photographs with synthetic streaks."""
    import cv2
    from skimage import data

    from uhr4k import layout

    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    rng = np.random.default_rng(0)
    for i in range(n):
        target = cv2.resize(photos[i % len(photos)], size, interpolation=cv2.INTER_AREA)
        streaks = np.zeros(target.shape[:2], np.float32)
        for _ in range(60):
            x, y = rng.integers(0, size[0]), rng.integers(0, size[1])
            cv2.line(streaks, (int(x), int(y)), (int(x) + 4, int(y) + 14), 1.0, 1)
        noisy = np.clip(target + 120 * streaks[..., None], 0, 255).astype(np.uint8)
        paths = layout.pair_paths("rain", "test", f"s{i}")
        write_image(root / paths["input"], noisy)
        write_image(root / paths["target"], target)
    return root


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench-html")
    from uhr4k.models import create_model
    ds = load_dataset(str(_tiny_uhr4k_root(tmp / "uhr4k")), subset="rain")
    models = {"identity": create_model("identity"), "blur": _Blur(), "denoise": _Denoise()}
    result = run_benchmark(models, [ds], tmp / "out", profile_size=(64, 48), repeats=1, untrained=["blur"])
    return result


@pytest.mark.slow
def test_bench_writes_crops_error_maps_and_a_consistent_page(bench_out):
    out = bench_out.out
    page = parse_page(out / "report.html")
    comparisons = json.loads((out / "comparisons.json").read_text())
    assert len(comparisons) == 3
    first = comparisons[0]
    assert [p["name"] for p in first["panels"]] == ["input = identity", "blur", "denoise", "target"]
    for r, panel in zip(first["regions"], [first["panels"][1]] * len(first["regions"]), strict=True):
        crop = read_image(out / panel["crops"][first["regions"].index(r)])
        assert crop.shape == (r["side"], r["side"], 3)             # 1:1: exactly the region's pixels
        full = read_image(out / f"images/{first['dataset']}/blur/{first['id']}.png")
        np.testing.assert_array_equal(crop, full[r["y"]:r["y"] + r["side"], r["x"]:r["x"] + r["side"]])
    for panel in first["panels"]:
        assert panel["view"] in page.images and all(c in page.images for c in panel["crops"])
        if panel["error"]:
            assert panel["error"] in page.images
    # the captions carry the per-image scores of per_image.csv
    with open(out / "per_image.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["model"] == "denoise" and r["id"] == first["id"])
    assert first["panels"][2]["caption"] == f"denoise: {float(row['psnr']):.2f} dB / {float(row['ssim']):.4f}"
    for src in page.images + [h for h in page.links if not h.endswith("/")]:
        assert not Path(src).is_absolute() and ".." not in src and (out / src).is_file(), src
    assert len(page.banners) == 1
    grid = read_image(out / "grids" / first["dataset"] / f"{first['id']}.png")
    assert grid.shape[1] == 4 * 480 + 5 * 6                        # input = identity, blur, denoise, target


@pytest.mark.slow
def test_report_renders_in_headless_chromium(bench_out, tmp_path):
    browser = find_browser()
    if browser is None:
        if in_ci():
            pytest.fail("CI must have chromium (.ci/run installs it)")
        pytest.skip("no chromium on this machine")
    shot = tmp_path / "report.png"
    check = check_page(bench_out.out / "report.html", shot, browser)
    print(f"screenshot: {shot}")
    assert check.images >= 3 * (4 + 2 * 4 + 3) + 2                 # views, crops, error maps per sample; plots
    assert check.broken_images == []
    assert check.console_errors == []
    assert all(u.startswith("file://") for u in check.requests), "the page must load nothing from the network"
    shot_image = read_image(shot)
    assert shot_image.shape[1] >= 1000 and shot_image.shape[0] > 2000
