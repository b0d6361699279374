"""build-syn end to end on generated material: determinism, shards, resume, bad input, splits."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from skimage import data

from uhr4k import layout
from uhr4k.cli import cli
from uhr4k.core.errors import InputError
from uhr4k.core.images import read_image, write_image
from uhr4k.synth import pipeline
from uhr4k.synth.merge import merge_shards
from uhr4k.synth.pipeline import BuildOptions, build_syn

SIZE = (64, 36)


def options(media, out, **kw):
    base = dict(frames=media / "frames", reflections=media / "reflections", out=out, count=8, size=SIZE,
                test=2, val=2, seed=3)
    base.update(kw)
    return BuildOptions(**base)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root except the private state folder, as bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and pipeline.STATE_DIR not in p.parts}


@pytest.fixture(scope="module")
def reference(media, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    summary = build_syn(options(media, out, workers=1), progress=False)
    return out, summary


def test_reference_build_is_complete_and_consistent(reference):
    root, summary = reference
    assert not summary.failures and summary.made == 8 and summary.rows == 16
    rows = layout.read_manifest(root)
    assert len(rows) == 16 and {r["subset"] for r in rows} == {"UHR4K-Syn", "UHR4K-Rain"}
    for r in rows:
        for col in ("input", "target", "layer"):
            img = read_image(root / r[col])
            assert img.shape[:2] == (SIZE[1], SIZE[0])
        params = json.loads(r["params"])
        if r["subset"] == "UHR4K-Syn":
            assert params["model"] == "zhang" and params["reflection"] in ("motorcycle.png", "cat.jpg")
        else:
            assert params["layers"]
    # scene-disjoint splits, all three present
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r["scene"], r["split"]) == r["split"]
    assert set(split_of.values()) == {"train", "val", "test"}
    assert len({r["seed"] for r in rows}) == 16
    assert (root / "preview.jpg").stat().st_size > 1000
    sheet = (root / "datasheet.md").read_text()
    assert "| UHR4K-Syn |" in sheet and "`sigma_frac`" in sheet and "Failures (0)" in sheet
    assert (root / "failures.csv").read_text() == "stage,id,file,reason\n"


@pytest.mark.slow
def test_two_workers_and_merged_shards_give_the_same_bytes(media, reference, tmp_path):
    ref_root, _ = reference
    expected = tree(ref_root)
    build_syn(options(media, tmp_path / "w2", workers=2), progress=False)
    assert tree(tmp_path / "w2") == expected
    for i in (1, 2, 3):
        build_syn(options(media, tmp_path / f"s{i}", shard=(i, 3)), progress=False)
    summary = merge_shards([tmp_path / "s2", tmp_path / "s3", tmp_path / "s1"], tmp_path / "merged")
    assert summary.shards == 3 and summary.rows == 16
    assert tree(tmp_path / "merged") == expected
    # merging into one of the shards works too
    merge_shards([tmp_path / f"s{i}" for i in (1, 2, 3)], tmp_path / "s1")
    assert tree(tmp_path / "s1") == expected


def test_merge_refuses_missing_or_mixed_shards(media, tmp_path):
    build_syn(options(media, tmp_path / "a", shard=(1, 2)), progress=False)
    with pytest.raises(InputError, match="missing shard"):
        merge_shards([tmp_path / "a"], tmp_path / "m")
    build_syn(options(media, tmp_path / "b", shard=(2, 2), seed=4), progress=False)
    with pytest.raises(InputError, match="different build-syn commands"):
        merge_shards([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    with pytest.raises(InputError, match="not a build-syn output"):
        merge_shards([tmp_path / "a", tmp_path], tmp_path / "m")
    build_syn(options(media, tmp_path / "c", shard=(2, 2)), progress=False)
    damaged = tmp_path / "a" / layout.read_manifest(tmp_path / "a")[0]["layer"]
    damaged.write_bytes(b"not the png that was built")
    with pytest.raises(InputError, match="checksum differs"):
        merge_shards([tmp_path / "a", tmp_path / "c"], tmp_path / "m")


def test_rerun_reuses_verified_samples_and_repairs_damaged_ones(media, reference, tmp_path):
    ref_root, _ = reference
    root = tmp_path / "r"
    build_syn(options(media, root), progress=False)
    rows = layout.read_manifest(root)
    damaged = root / rows[0]["input"]
    damaged.write_bytes(damaged.read_bytes()[:100])
    (root / rows[5]["layer"]).unlink()
    summary = build_syn(options(media, root), progress=False)
    assert summary.made == 2 and summary.reused == 6
    assert tree(root) == tree(ref_root)


def test_interrupted_run_leaves_no_partial_file_and_resumes_to_the_same_result(media, reference, tmp_path,
                                                                                monkeypatch):
    ref_root, _ = reference
    root = tmp_path / "killed"
    import uhr4k.core.atomic as atomic
    import uhr4k.core.images as images

    real_write = atomic.write_bytes_atomic
    state = {"n": 0, "killed": None}

    def dying_write(path, data):
        state["n"] += 1
        if state["n"] == 19:  # 3 plan files, 7 per sample: the 2nd file of the 3rd sample, half written
            state["killed"] = Path(path)
            with atomic.atomic_path(path) as tmp:
                tmp.write_bytes(data[: len(data) // 2])
                raise KeyboardInterrupt
        return real_write(path, data)

    monkeypatch.setattr(atomic, "write_bytes_atomic", dying_write)
    monkeypatch.setattr(images, "write_bytes_atomic", dying_write)
    monkeypatch.setattr(pipeline, "write_bytes_atomic", dying_write)
    with pytest.raises(KeyboardInterrupt):
        build_syn(options(media, root), progress=False)
    monkeypatch.undo()
    assert state["killed"] is not None and not state["killed"].exists(), "the file being written is absent"
    assert not list(root.rglob("*.part")), "temporary files must not survive"
    assert not (root / "manifest.csv").exists()
    records = list((root / pipeline.STATE_DIR / "rows").glob("*.json"))
    assert 0 < len(records) < 8
    summary = build_syn(options(media, root), progress=False)
    assert summary.reused == len(records)
    assert tree(root) == tree(ref_root)


def test_bad_inputs_are_one_line_each_recorded_and_the_run_goes_on(media, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for p in (media / "frames").iterdir():
        (frames / p.name).symlink_to(p)
    (frames / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    write_image(frames / "tiny.png", data.astronaut()[:20, :20])
    cut = frames / "cut.jpg"
    write_image(cut, data.coffee())
    cut.write_bytes(cut.read_bytes()[:3000])
    refl = tmp_path / "refl"
    refl.mkdir()
    write_image(refl / "ok.png", data.rocket())
    bad_refl = refl / "bad.png"
    write_image(bad_refl, data.coffee())
    bad_refl.write_bytes(bad_refl.read_bytes()[:2000])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(frames), "--reflections", str(refl), "--out",
                                      str(out), "--count", "6", "--size", "64x36", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 4
    for name in ("broken.mp4", "tiny.png", "cut.jpg", "bad.png"):
        assert sum(name in line for line in failed) == 1, name
    assert "smaller than --size 64x36" in result.output
    csv_text = (out / "failures.csv").read_text()
    assert all(name in csv_text for name in ("broken.mp4", "tiny.png", "cut.jpg", "bad.png"))
    rows = layout.read_manifest(out)
    assert len(rows) == 12
    assert all(json.loads(r["params"]).get("reflection", "ok.png") == "ok.png" for r in rows)


def test_unusable_reflection_photos_fail_with_the_header_checks_reason(tmp_path):
    """Reflections are checked as bench checks its pairs (core.images.check_image_header), CRCs included."""
    refl = tmp_path / "refl"
    write_image(refl / "ok.png", data.rocket())
    png = (refl / "ok.png").read_bytes()
    (refl / "cut.png").write_bytes(png[:2000])
    damaged = bytearray(png)
    damaged[len(png) // 2] ^= 0xFF
    (refl / "crc.png").write_bytes(bytes(damaged))
    (refl / "empty.png").write_bytes(b"")
    failures = []
    assert [entry["rel"] for entry in pipeline._reflection_pool(refl, failures)] == ["ok.png"]
    reasons = {Path(f.file).name: f.reason for f in failures}
    assert reasons.pop("empty.png") == "empty file"
    assert reasons.pop("cut.png") == "cannot read image header (Truncated File Read)"   # PIL's verify reads it
    assert reasons.pop("crc.png").startswith("cannot read image header (") and not reasons


def test_reflections_folder_without_images_falls_back_with_a_failure(media, tmp_path):
    empty = tmp_path / "refl"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(media / "frames"), "--reflections", str(empty),
                                      "--out", str(tmp_path / "o"), "--count", "4", "--size", "64x36", "--quiet",
                                      "--subsets", "syn"])
    assert result.exit_code == 1
    assert f"failed: {empty}: no image files found" in result.output
    assert "frames of other scenes" in result.output
    rows = layout.read_manifest(tmp_path / "o")
    assert len(rows) == 4 and {r["subset"] for r in rows} == {"UHR4K-Syn"}
    for r in rows:
        assert json.loads(r["params"])["reflection"].split("#")[0] != r["source"].split("#")[0]


def test_user_errors_print_one_line_and_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    runner = CliRunner()
    result = runner.invoke(cli, ["build-syn", "--frames", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip() == f"error: {tmp_path / 'empty'}: no image or video files found"
    result = runner.invoke(cli, ["build-syn", "--frames", str(tmp_path), "--out", str(tmp_path / "o"),
                                 "--shard", "3/2"])
    assert result.exit_code == 2 and "--shard 3/2" in result.output
    result = runner.invoke(cli, ["merge", str(tmp_path / "empty"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "not a build-syn output" in result.output


def test_leftovers_of_a_hard_kill_are_cleaned_and_strays_reported(media, reference, tmp_path):
    ref_root, _ = reference
    root = tmp_path / "r"
    build_syn(options(media, root), progress=False)
    part = root / "UHR4K-Syn" / "train" / "input" / ".x.png.part"
    part.write_bytes(b"half")
    stray = root / "UHR4K-Rain" / "test" / "input" / "old-run.png"
    stray.write_bytes(b"png")
    summary = build_syn(options(media, root), progress=False)
    assert not part.exists() and stray.exists()
    assert any("1 image(s) not in the manifest" in m for m in summary.messages)
    assert summary.reused == 8


def test_out_inside_the_sources_is_refused(media, tmp_path):
    with pytest.raises(InputError, match="must not lie inside --frames"):
        build_syn(options(media, media / "frames" / "out"), progress=False)
    with pytest.raises(InputError, match="--count must be at least 1"):
        build_syn(options(media, tmp_path / "o", count=0), progress=False)


def test_zhang_visibility_filter_skips_reflections_too_dark_for_the_background(tmp_path):
    write_image(tmp_path / "dark.png", np.full((40, 60, 3), 30, np.uint8))
    write_image(tmp_path / "bright.png", np.full((40, 60, 3), 200, np.uint8))
    target = np.full((36, 64, 3), 150, np.uint8)
    spec = {"reflections": [{"from": "reflections", "rel": "dark.png"}, {"from": "reflections", "rel": "bright.png"}]}
    img, ref, tries = pipeline._choose_reflection(spec, target, tmp_path, tmp_path)
    assert ref["rel"] == "bright.png" and tries == 2 and img[0, 0, 0] == 200
    spec["reflections"] = spec["reflections"][:1]
    img, ref, tries = pipeline._choose_reflection(spec, np.full((36, 64, 3), 255, np.uint8), tmp_path, tmp_path)
    assert ref["rel"] == "dark.png" and tries == 1  # none passes: the brightest is used
    assert pipeline._linear_mean(target) == pytest.approx((150 / 255) ** 2.2)
