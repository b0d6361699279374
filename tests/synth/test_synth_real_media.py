"""build-syn on the real videos and photos of ../shared/data/media (mandatory under CI)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from uhr4k import layout
from uhr4k.cli import cli
from uhr4k.core.atomic import sha256_file
from uhr4k.core.images import read_image


@pytest.mark.slow
def test_build_syn_from_real_videos_and_photos(shared_data, tmp_path):
    media = shared_data / "media"
    out = tmp_path / "uhr4k"
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(media), "--reflections", str(media), "--out",
                                      str(out), "--count", "6", "--size", "320x180", "--quiet", "--workers", "2"])
    assert result.exit_code == 0, result.output
    rows = layout.read_manifest(out)
    assert len(rows) == 12
    sources = {r["source"].split("#")[0] for r in rows}
    assert {"cockatoo_1280x720.mp4", "realshort_320x240.mp4"} <= sources, "frames from both videos"
    frames_of = [r for r in rows if r["source"].startswith("cockatoo") and r["subset"] == "UHR4K-Rain"]
    indices = sorted(int(r["source"].split("#")[1]) for r in frames_of)
    assert len(indices) >= 2 and indices[-1] - indices[0] >= 100, "spread over the video"
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r["scene"], r["split"]) == r["split"]
        for col, sha in (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer")):
            assert sha256_file(out / r[col]) == r[sha]
        inp, target = read_image(out / r["input"]), read_image(out / r["target"])
        assert inp.shape == target.shape == (180, 320, 3)
        if r["subset"] == "UHR4K-Rain":
            assert np.all(inp >= target)
        else:
            assert json.loads(r["params"])["reflection"] in ("kodim03_768x512.png", "rommel_3072x2304.jpg")
        assert np.abs(inp.astype(int) - target).mean() > 1, "a visible degradation"
    assert (out / "preview.jpg").is_file() and (out / "datasheet.md").is_file()


def test_a_portrait_phone_photo_becomes_an_upright_background(shared_data, tmp_path):
    import shutil

    from uhr4k.synth.frames import background

    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(shared_data / "media" / "rommel_3072x2304.jpg", frames / "rommel.jpg")  # EXIF orientation 6
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(frames), "--out", str(out), "--count", "1",
                                      "--size", "320x180", "--subsets", "rain", "--test", "0", "--val", "0",
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    (row,) = layout.read_manifest(out)
    assert json.loads(row["params"])["source_exif_orientation"] == 6
    shown = read_image(frames / "rommel.jpg")
    assert shown.shape[:2] == (3072, 2304), "portrait, as viewers show it"
    assert np.array_equal(read_image(out / row["target"]), background(shown, (320, 180)))
