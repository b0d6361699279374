"""What `uhr4k bench` tells its reader: no complexity at a size nobody asked for, untrained models flagged."""
import csv
import math

import numpy as np
import pytest
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.core.images import write_image


def _tiny_set(root, n=2, size=(24, 32)):
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(root / "input" / f"{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        write_image(root / "target" / f"{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


@pytest.mark.slow
def test_profile_size_none_counts_parameters_only_and_untrained_models_are_flagged(tmp_path):
    data = _tiny_set(tmp_path / "set")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["bench", "--model", "identity", "--model", "prenet", "--data", str(data),
                                   "--out", str(out), "--profile-size", "none", "--no-images"])
    assert res.exit_code == 0, res.output
    assert "profile 3840x2160" not in res.output and "3840" not in (out / "complexity.csv").read_text()
    with open(out / "complexity.csv", newline="") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert rows["prenet"]["input_size"] == "-" and math.isnan(float(rows["prenet"]["macs_g"]))
    assert float(rows["prenet"]["params_m"]) == 0.168963
    assert rows["prenet"]["status"] == "not profiled (--profile-size none)"
    # prenet was built with random weights, identity has none to learn
    warning = [line for line in res.output.splitlines() if line.startswith("warning: untrained")]
    assert warning and "prenet" in warning[0] and "identity" not in warning[0]
