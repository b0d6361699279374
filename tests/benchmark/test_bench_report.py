"""Report pieces: tables, comparison grids, the runtime-vs-PSNR plot, peak-memory resets."""
import math

import numpy as np
import pytest
import torch

from uhr4k.benchmark import report
from uhr4k.benchmark.profiling import peak_memory, reset_peak_memory

RED = np.array([200, 40, 40])


def _red_pixels(img):
    return int(np.all(img == RED, axis=2).sum())


def test_plot_places_points_by_value():
    pts = [("fast", 0.1, 30.0), ("slow", 10.0, 32.0), ("ref", 1e-4, math.inf)]
    img = report.runtime_psnr_plot(pts, "t", size=(900, 600))
    assert img.shape == (600, 900, 3) and img.dtype == np.uint8
    red = np.argwhere(np.all(img == RED, axis=2))
    left, right = red[red[:, 1] < 450], red[red[:, 1] >= 450]
    assert len(left) and len(right)                     # log axis: 0.1 s left, 10 s right
    assert left[:, 0].mean() > right[:, 0].mean()       # 30 dB lower on the image than 32 dB
    empty = report.runtime_psnr_plot([("ref", 0.1, math.inf)])
    assert _red_pixels(empty) == 0


def test_grid_layout_and_captions():
    panels = [(f"p{i}\n{i} dB", np.full((40, 80, 3), 60 * i, np.uint8)) for i in range(5)]
    grid = report.comparison_grid(panels, panel_width=100, columns=3)
    gap = 6
    assert grid.shape[1] == 3 * 100 + 4 * gap                      # 3 columns
    row_h = (grid.shape[0] - 3 * gap) / 2                          # 2 rows
    assert row_h > 50                                              # 50 px image + captions
    # the third panel's pixels (value 120) sit in row 1, column 3
    assert np.all(grid[gap + 10, gap + 2 * (100 + gap) + 50] == 120)
    with pytest.raises(ValueError, match=r"\(40, 80\)"):
        report.comparison_grid([("x", np.zeros((40, 80), np.uint8))])


def test_summary_markdown_is_the_papers_shape():
    rows = [{"model": m, "dataset": d, "protocol": "y", "n": 2, "psnr": p, "ssim": 0.9, "runtime_s": 0.5,
             "peak_mem_gb": 1.0} for m, d, p in [("a", "rain100h", 30.0), ("a", "rain100l", 35.0),
                                                  ("b", "rain100h", math.nan)]]
    md = report.summary_markdown(rows).splitlines()
    assert md[0] == "| model | rain100h (y) PSNR / SSIM | rain100l (y) PSNR / SSIM | runtime (s/img) |"
    assert md[2] == "| a | 30.00 / 0.900 | 35.00 / 0.900 | 0.500 |"
    assert md[3] == "| b | - / 0.900 | - | 0.500 |"


def test_cpu_peak_memory_resets():
    cpu = torch.device("cpu")
    big = np.ones(300_000_000 // 8)
    big[::512] = 2.0
    before = peak_memory(cpu)
    del big
    reset_peak_memory(cpu)
    after = peak_memory(cpu)
    if after == before:
        pytest.skip("this kernel cannot reset the peak resident set (/proc/self/clear_refs)")
    assert before - after > 200_000_000
