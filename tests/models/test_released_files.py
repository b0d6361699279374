"""The authors' real released files (shared reference data) load with pretrained= and work."""
import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from uhr4k.benchmark.metrics import psnr
from uhr4k.cli import cli
from uhr4k.core.images import read_image, write_image
from uhr4k.models import create_model
from uhr4k.models.weights.read import read_weights

PRENET = "released-weights/Rain100H_PReNet6_net_latest.pth"
VRGNET = "released-weights/syn100l_DerainNet_state_700.pt"


def test_prenet_release_loads_exactly(shared_data):
    model = create_model("prenet", pretrained=shared_data / PRENET)
    release = torch.load(shared_data / PRENET, map_location="cpu", weights_only=True)  # saved from a GPU
    assert torch.equal(model.head[0].weight, release["conv0.0.weight"])
    assert torch.equal(model.res_blocks[4][2].bias, release["res_conv5.2.bias"])
    assert torch.equal(model.tail.weight, release["conv.0.weight"])


@pytest.mark.slow
def test_bench_weights_prenet_on_rain100h_sample(shared_data, tmp_path, one_thread):
    """Released PReNet (Rain100H) through `bench --weights`: a clear gain in Y-PSNR on two sample crops.

    (The published 29.46 dB is over the full 100-image test set; the 10 sample pairs give 29.88 dB.)
    """
    data = tmp_path / "set"
    for i in (1, 2):
        for side in ("input", "target"):
            img = read_image(shared_data / "rain100h-sample" / side / f"{i}.png")
            write_image(data / side / f"{i}.png", np.ascontiguousarray(img[80:240, 40:280]))
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["bench", "--model", "prenet", "--weights", str(shared_data / PRENET),
                                   "--data", str(data), "--protocol", "y", "--out", str(out),
                                   "--profile-size", "none", "--no-images"])
    assert res.exit_code == 0, res.output
    assert "untrained" not in res.output
    with open(out / "summary.csv", newline="") as f:
        row = next(csv.DictReader(f))
    before = np.mean([psnr(read_image(data / "input" / f"{i}.png"), read_image(data / "target" / f"{i}.png"), "y")
                      for i in (1, 2)])
    assert row["model"] == "prenet" and float(row["psnr"]) > before + 12 and float(row["psnr"]) > 28


def test_vrgnet_release_is_readable(shared_data):
    """VRGNet's deraining network (issue 14's model) reads as a flat state dict of its own key names."""
    weights = read_weights(shared_data / VRGNET)
    assert weights.config is None and len(weights.state) == 34
    assert tuple(weights.state["derainet.convfinal.0.weight"].shape) == (6, 32, 3, 3)
