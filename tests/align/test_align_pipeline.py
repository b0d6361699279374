"""End to end: ``align_dataset`` and ``uhr4k align`` on a small raw folder with good and bad pairs."""
import csv
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from uhr4k import layout
from uhr4k.align.estimate import corner_error
from uhr4k.align.pair import ALIGNMENT_COLUMNS, AlignSettings, assess_pair
from uhr4k.align.pipeline import align_dataset
from uhr4k.align.raw_pairs import RawPair
from uhr4k.cli import cli
from uhr4k.core.atomic import sha256_file
from uhr4k.core.errors import InputError
from uhr4k.core.images import read_image, write_image
from uhr4k.data.splits import find_leaks

from align_material import PAIR_SIZE, glass_pair, scene

# the columns the issue asks for, in its order
ISSUE_COLUMNS = ("id scene glass noglass status reason h00 h01 h02 h10 h11 h12 h20 h21 h22 matches inliers "
                 "inlier_ratio rmse_px zncc_before zncc_after gain_r gain_g gain_b crop_x crop_y crop_w crop_h").split()
GOOD = {"atrium-01": 0, "atrium-02": 1, "bridge-01": 2, "canal-01": 4}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    truth = {}
    for pair_id, seed in GOOD.items():
        scene_name, number = pair_id.split("-")
        glass, background, H = glass_pair(seed)
        if pair_id == "canal-01":  # a 16-bit capture
            glass, background = glass.astype(np.uint16) * 257, background.astype(np.uint16) * 257
        write_image(root / scene_name / f"{number}_glass.png", glass)
        write_image(root / scene_name / f"{number}_noglass.png", background)
        truth[pair_id] = H
    coffee = scene("coffee", PAIR_SIZE)
    # parallax: the right half of the scene moves 4 px more than the left half (two depths)
    shifted = coffee.copy()
    shifted[:, 320:] = np.roll(coffee, 4, axis=1)[:, 320:]
    write_image(root / "hill" / "01_glass.png", shifted)
    write_image(root / "hill" / "01_noglass.png", coffee)
    write_image(root / "bad" / "flat_glass.png", np.full((400, 640, 3), 128, np.uint8))
    write_image(root / "bad" / "flat_noglass.png", np.full((400, 640, 3), 110, np.uint8))
    write_image(root / "bad" / "unrelated_glass.png", coffee)
    write_image(root / "bad" / "unrelated_noglass.png", scene("rocket", PAIR_SIZE))
    data = (root / "atrium" / "01_glass.png").read_bytes()
    (root / "bad" / "cut_glass.png").write_bytes(data[: len(data) // 2])
    write_image(root / "bad" / "cut_noglass.png", coffee)
    write_image(root / "bad" / "lonely_glass.png", coffee)
    write_image(root / "bad" / "sizes_glass.png", coffee)
    write_image(root / "bad" / "sizes_noglass.png", coffee[:300])
    return root, truth


@pytest.fixture(scope="module")
def run(raw, tmp_path_factory):
    raw_dir, _ = raw
    out = tmp_path_factory.mktemp("out")
    summary = align_dataset(raw_dir, out, test=1, val=0, seed=0, workers=2)
    return out, summary


def read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


@pytest.mark.slow
def test_alignment_csv_has_the_issue_columns_and_a_verdict_per_pair(raw, run):
    out, summary = run
    header, rows = read_csv(out / "alignment.csv")
    assert header == [*ISSUE_COLUMNS, "method"] == list(ALIGNMENT_COLUMNS)
    status = {r["id"]: r["status"] for r in rows}
    assert {k: v for k, v in status.items() if k in GOOD} == {k: "ok" for k in GOOD}
    reasons = {r["id"]: r["reason"] for r in rows}
    assert status["bad-flat"] == "failed" and "too few features" in reasons["bad-flat"]
    assert status["bad-unrelated"] == "failed" and "too few" in reasons["bad-unrelated"]
    assert status["bad-cut"] == "failed" and "cut_glass.png" in reasons["bad-cut"]
    assert status["bad-lonely"] == "failed" and "missing partner" in reasons["bad-lonely"]
    assert status["bad-sizes"] == "failed" and "different sizes" in reasons["bad-sizes"]
    assert sorted(i for i, _ in summary.failures) == sorted(k for k in status if k.startswith("bad-"))
    assert status["hill-01"] == "flagged" and "agree with one homography" in reasons["hill-01"]
    assert summary.flagged == [("hill-01", reasons["hill-01"])]
    assert (out / "UHR4K-Real" / "qa" / "hill-01.jpg").is_file()


@pytest.mark.slow
def test_homographies_in_the_csv_match_the_truth(raw, run):
    _, truth = raw
    out, _ = run
    for row in read_csv(out / "alignment.csv")[1]:
        if row["id"] in truth:
            H = np.array([float(row[f"h{i}{j}"]) for i in range(3) for j in range(3)]).reshape(3, 3)
            assert corner_error(H, truth[row["id"]], *PAIR_SIZE) < 0.3, row["id"]


@pytest.mark.slow
def test_dataset_files_follow_the_contract(raw, run):
    raw_dir, _ = raw
    out, _ = run
    rows = layout.read_manifest(out)
    assert sorted(r["id"] for r in rows) == sorted(GOOD)
    alignment = {r["id"]: r for r in read_csv(out / "alignment.csv")[1]}
    for row in rows:
        assert row["subset"] == "UHR4K-Real" and row["layer"] == f"UHR4K-Real/{row['split']}/mask/{row['id']}.png"
        for column, digest in (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer")):
            assert sha256_file(out / row[column]) == row[digest]
        a = alignment[row["id"]]
        x, y, w, h = (int(a[c]) for c in ("crop_x", "crop_y", "crop_w", "crop_h"))
        target = read_image(out / row["target"])
        scene_name, number = row["id"].split("-")
        original = read_image(raw_dir / scene_name / f"{number}_noglass.png")
        # the background is cropped, never resampled
        np.testing.assert_array_equal(target, original[y:y + h, x:x + w])
        assert read_image(out / row["input"]).shape == target.shape
        assert (int(row["width"]), int(row["height"])) == (w, h)
        assert read_image(out / row["layer"]).min() == 255
        assert (out / "UHR4K-Real" / "qa" / f"{row['id']}.jpg").is_file()
        assert target.dtype == (np.uint16 if row["id"] == "canal-01" else np.uint8)
    # scene-disjoint splits with the requested test size (and the benchmark's leak check agrees)
    assert find_leaks(rows) == []
    splits = {}
    for row in rows:
        splits.setdefault(row["scene"], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert sum(r["split"] == "test" for r in rows) >= 1 and any(r["split"] == "train" for r in rows)


@pytest.mark.slow
def test_rerun_reuses_everything_and_one_worker_gives_the_same_results(raw, run, tmp_path):
    raw_dir, _ = raw
    out, _ = run
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")}
    summary = align_dataset(raw_dir, out, test=1, val=0, seed=0, workers=1)
    assert summary.reused == len(read_csv(out / "alignment.csv")[1])
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")} == before
    # a lost or damaged output file is noticed (hash) and written again, identical
    victim = sorted(before)[0]
    victim.write_bytes(b"damaged")
    align_dataset(raw_dir, out, test=1, val=0, seed=0, workers=1)
    assert victim.read_bytes() == before[victim][1]
    # a fresh run of one scene with one worker writes the same numbers and pixels as the 2-worker run
    fresh, one_scene = tmp_path / "fresh", tmp_path / "raw"
    shutil.copytree(raw_dir / "atrium", one_scene / "atrium")
    align_dataset(one_scene, fresh, test=0, val=0, seed=0, workers=1)
    old_rows = {r["id"]: r for r in read_csv(out / "alignment.csv")[1]}
    for row in read_csv(fresh / "alignment.csv")[1]:
        assert {k: v for k, v in row.items() if k not in ("glass", "noglass")} == \
            {k: v for k, v in old_rows[row["id"]].items() if k not in ("glass", "noglass")}
    old_manifest = {r["id"]: r for r in layout.read_manifest(out)}
    for row in layout.read_manifest(fresh):
        assert row["sha256_input"] == old_manifest[row["id"]]["sha256_input"]
        assert row["sha256_layer"] == old_manifest[row["id"]]["sha256_layer"]


@pytest.mark.slow
def test_size_option_crops_only_and_reuses_the_estimates(raw, tmp_path):
    raw_dir, _ = raw
    summary = align_dataset(raw_dir / "atrium", tmp_path, test=0, settings=AlignSettings(size=(512, 320)))
    rows = layout.read_manifest(tmp_path)
    assert summary.counts == {"ok": 2} and all((r["width"], r["height"]) == ("512", "320") for r in rows)
    too_big = align_dataset(raw_dir / "atrium", tmp_path, test=0, settings=AlignSettings(size=(640, 400)))
    assert too_big.reused == 2
    assert too_big.counts == {"failed": 2} and "smaller than --size" in too_big.failures[0][1]
    # the pairs that left the dataset took their files with them
    assert layout.read_manifest(tmp_path) == [] and not list(tmp_path.rglob("UHR4K-Real/*/input/*.png"))


def test_output_inside_the_raw_folder_is_refused(raw):
    raw_dir, _ = raw
    with pytest.raises(InputError, match="inside RAW_DIR"):
        align_dataset(raw_dir, raw_dir / "out")


def test_cli_reports_failures_with_exit_status_and_bad_folder_in_one_line(raw, tmp_path):
    raw_dir, _ = raw
    runner = CliRunner()
    result = runner.invoke(cli, ["align", str(raw_dir / "bad"), "--out", str(tmp_path / "o"), "--test", "0"])
    assert result.exit_code == 1
    assert "0 ok, 0 flagged, 5 failed" in result.output
    result = runner.invoke(cli, ["align", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["align", str(raw_dir), "--out", str(tmp_path / "o"), "--size", "big"])
    assert result.exit_code == 2 and "--size" in result.output


@pytest.mark.slow
def test_published_real_reflection_pairs_are_registered(shared_data, tmp_path):
    summary = align_dataset(shared_data / "reflection-real-sample", tmp_path, test=2)
    assert summary.convention == "parallel folders blended/ and transmission/"
    assert summary.counts.get("failed", 0) == 0 and summary.counts.get("ok", 0) >= 3
    rows = {r["id"]: r for r in read_csv(tmp_path / "alignment.csv")[1]}
    # two of the published pairs are off by 11-13 px vertically; registration fixes that
    for pair_id in ("000006", "000007"):
        row = rows[pair_id]
        assert abs(float(row["h12"])) > 5 and float(row["zncc_after"]) > float(row["zncc_before"]) + 0.1


def test_ecc_refinement_path_keeps_the_pair_accurate(raw, tmp_path):
    raw_dir, truth = raw
    pair = RawPair("atrium-02", "atrium", raw_dir / "atrium" / "02_glass.png", raw_dir / "atrium" / "02_noglass.png")
    result = assess_pair(pair, raw_dir, AlignSettings(refine="ecc"), qa_path=tmp_path / "qa.jpg")
    assert result.status == "ok", result.reason
    H = np.array(result.H).reshape(3, 3)
    assert corner_error(H, truth["atrium-02"], *PAIR_SIZE) < 0.3
    assert read_image(tmp_path / "qa.jpg").shape[1] == 1600


@pytest.mark.slow
def test_paper_method_runs_through_the_same_pipeline_and_is_recorded(raw, run, tmp_path):
    """`--method paper` (ORB at full resolution + RANSAC): the same gates, QA images, files and csv, the
    method in every row. Its residual here is about 1.1 px (ours 0.2 px), so the default --max-rmse 0.5
    flags its pairs and a looser gate admits them."""
    raw_dir, truth = raw
    good = tmp_path / "raw"
    for pair_id in ("atrium-01", "bridge-01"):
        scene_name, number = pair_id.split("-")
        for side in ("glass", "noglass"):
            name = f"{number}_{side}.png"
            (good / scene_name).mkdir(parents=True, exist_ok=True)
            shutil.copy(raw_dir / scene_name / name, good / scene_name / name)
    strict = CliRunner().invoke(cli, ["align", str(good), "--out", str(tmp_path / "strict"), "--method", "paper"])
    assert strict.exit_code == 0, strict.output
    assert {(r["status"], r["method"]) for r in read_csv(tmp_path / "strict" / "alignment.csv")[1]} == {
        ("flagged", "paper")}
    assert "residual" in strict.output
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["align", str(good), "--out", str(out), "--method", "paper", "--test", "1",
                                      "--val", "0", "--max-rmse", "2"])
    assert result.exit_code == 0, result.output
    header, rows = read_csv(out / "alignment.csv")
    assert header == list(ALIGNMENT_COLUMNS) and {r["method"] for r in rows} == {"paper"}
    assert {r["status"] for r in rows} == {"ok"}
    ours = {r["id"]: r for r in read_csv(run[0] / "alignment.csv")[1]}
    assert ours["atrium-01"]["method"] == "ours"
    for row in rows:
        H = np.array([float(row[f"h{i}{j}"]) for i in range(3) for j in range(3)]).reshape(3, 3)
        assert corner_error(H, truth[row["id"]], *PAIR_SIZE) < 2.0, row["id"]
        assert int(row["inliers"]) >= 50 and row["h00"] != ours[row["id"]]["h00"]   # another estimate
        assert (out / "UHR4K-Real" / "qa" / f"{row['id']}.jpg").is_file()
    assert sorted(r["id"] for r in layout.read_manifest(out)) == ["atrium-01", "bridge-01"]
    # align writes the dataset card (README.md) with the command that made UHR4K-Real
    from uhr4k.layout.card import read_card_meta
    card = read_card_meta(out)["uhr4k"]
    assert card["command"].startswith("uhr4k align ") and "--method paper" in card["command"]
    assert card["splits"]["UHR4K-Real"]["test"] == 1 and "reflection-removal" in read_card_meta(out)["tags"]
    with pytest.raises(ValueError, match="unknown alignment method 'nope'"):
        assess_pair(RawPair("x", "x", good / "atrium" / "01_glass.png", good / "atrium" / "01_noglass.png"), good,
                    AlignSettings(method="nope"))


def test_a_hostile_manifest_cannot_delete_outside_the_root_and_leftovers_are_cleaned(raw, tmp_path):
    raw_dir, _ = raw
    out = tmp_path / "o"
    summary = align_dataset(raw_dir / "atrium", out, test=0, val=0)
    assert set(summary.results) == {"01", "02"}
    assert summary.results["01"].status == "ok" and len(summary.results["01"].H) == 9
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    manifest = out / "manifest.csv"
    original = manifest.read_text()
    row = layout.read_manifest(out)[0]
    for hostile in ("../victim.txt", str(victim)):
        manifest.write_text(original.replace(row["layer"], hostile))
        result = CliRunner().invoke(cli, ["align", str(raw_dir / "bridge"), "--out", str(out), "--test", "0",
                                          "--val", "0"])
        assert result.exit_code == 2 and ("leads outside" in result.output or "not a relative path" in result.output)
        assert result.output.count("\n") == 1 and victim.read_text() == "precious"
    manifest.write_text(original)
    left = out / "UHR4K-Real" / "qa" / ".01.4194304-0badf00d.jpg.part"
    left.write_bytes(b"half")
    align_dataset(raw_dir / "atrium", out, test=0, val=0)
    assert not left.exists()


def test_phone_photos_stored_sideways_are_aligned_upright_and_say_so(tmp_path):
    from PIL import Image

    glass, background, _ = glass_pair(0)
    raw = tmp_path / "raw" / "porch"
    raw.mkdir(parents=True)
    for name, img in (("01_glass.jpg", glass), ("01_noglass.jpg", background)):
        stored = Image.fromarray(np.ascontiguousarray(np.rot90(img, 1)))   # what a phone held upright stores
        exif = stored.getexif()
        exif[0x0112] = 6                                                  # "turn 90 degrees clockwise"
        stored.save(raw / name, exif=exif.tobytes(), quality=97)
    summary = align_dataset(tmp_path / "raw", tmp_path / "out", test=0, val=0)
    (result,) = summary.results.values()
    assert result.status in ("ok", "flagged") and (result.width, result.height) == (glass.shape[1], glass.shape[0])
    assert "EXIF orientation 6 applied" in result.reason
