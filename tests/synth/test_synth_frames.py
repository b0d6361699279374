"""Frame selection: usability checks, spreading, near-duplicates, seeking back, bad sources."""
import cv2
import numpy as np
import pytest
from skimage import data

from uhr4k.core.errors import InputError
from uhr4k.core.images import write_image
from uhr4k.core.video import iter_video_frames
from uhr4k.synth import frames as F
from uhr4k.synth.resize import cover_resize

from synth_material import pan_frames, write_video


def test_usability_flags_black_flat_blurred_and_keeps_sharp_photos():
    sharp = data.astronaut()
    assert F.usability(sharp)[0] is None
    assert F.usability(np.full((200, 300, 3), 5, np.uint8))[0] == "black"
    assert F.usability(np.full((200, 300, 3), 128, np.uint8))[0] == "flat"
    assert F.usability(cv2.GaussianBlur(sharp, (0, 0), sharp.shape[1] / 150))[0] == "blurred"


def test_near_duplicates_are_detected_but_different_views_are_not():
    a = F.usability(data.astronaut())[1]
    noisy = np.clip(data.astronaut() + np.random.default_rng(0).normal(0, 2, data.astronaut().shape), 0, 255)
    b = F.usability(noisy.astype(np.uint8))[1]
    c = F.usability(np.roll(data.astronaut(), 60, axis=1))[1]
    assert F.is_duplicate(b, [a])
    assert not F.is_duplicate(c, [a])


def test_spread_order_prefixes_are_spread():
    order = F._spread_order(16)
    assert sorted(order) == list(range(16))
    assert sorted(order[:2]) == [0, 8] and sorted(order[:4]) == [0, 4, 8, 12]
    assert sorted(F._spread_order(5)) == list(range(5))


def test_candidates_are_spread_and_spaced():
    idx = F.candidate_indices(300, 30.0, 10)
    assert len(idx) == 10 and idx[0] < 30 and idx[-1] > 270
    assert np.all(np.diff(idx) >= 15)
    assert len(F.candidate_indices(40, 30.0, 100)) == 2  # at least half a second apart


def test_cover_resize_never_stretches():
    img = np.zeros((100, 400, 3), np.uint8)
    cv2.circle(img, (200, 50), 40, (255, 255, 255), -1)
    out = cover_resize(img, (100, 100))
    ys, xs = np.nonzero(out[:, :, 0] > 127)
    assert out.shape == (100, 100, 3)
    assert (xs.max() - xs.min()) == pytest.approx(ys.max() - ys.min(), abs=2)  # still a circle


def test_selection_spreads_over_scenes_skips_black_and_duplicates(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    moving = pan_frames(data.astronaut(), 40)
    for k in range(10, 20):
        moving[k] = np.zeros_like(moving[k])  # a fade to black in the middle
    write_video(frames / "a.mp4", moving)
    still = pan_frames(data.coffee(), 1) * 40  # a static shot: every frame the same
    write_video(frames / "b.mp4", still)
    sources, failures = F.scan_sources(frames, (64, 36))
    assert not failures and [s.scene for s in sources] == ["a", "b"]
    picked, skipped, failures = F.select_frames(sources, 6)
    assert not failures
    scenes = [f.scene for f in picked]
    assert scenes.count("b") == 1, "a static video gives one frame, the rest are duplicates"
    assert skipped.get("duplicate", 0) >= 1 and skipped.get("black", 0) >= 1
    a_idx = [f.index for f in picked if f.scene == "a"]
    assert all(not 10 <= i < 20 for i in a_idx)
    assert max(a_idx) - min(a_idx) >= 20, "picks spread over the video"
    # reading back by seeking gives exactly the selected frame
    decoded = dict(iter_video_frames(frames / "a.mp4", a_idx))
    for f in picked:
        if f.scene == "a":
            assert np.array_equal(F.read_frame(frames, f), decoded[f.index])


def test_read_frame_falls_back_when_seeking_misses(tmp_path):
    frames = tmp_path / "f"
    frames.mkdir()
    write_video(frames / "v.mp4", pan_frames(data.rocket(), 12))
    frame = dict(iter_video_frames(frames / "v.mp4", [7]))[7]
    # at the wrong frame rate a seek lands elsewhere
    wrong_fps = F.Frame("v-000007", "v", "v.mp4", "video", 7, 3.0, F.frame_check(frame), 160, 96)
    assert np.array_equal(F.read_frame(frames, wrong_fps), frame)
    changed = F.Frame("v-000007", "v", "v.mp4", "video", 7, 10.0, "0" * 16, 160, 96)
    with pytest.raises(InputError, match="differs from the one selected"):
        F.read_frame(frames, changed)


def test_bad_sources_are_failures_not_crashes(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    good = write_video(frames / "good.mp4", pan_frames(data.astronaut(), 12))
    (frames / "empty.mp4").write_bytes(b"")
    (frames / "junk.mov").write_bytes(b"this is not a video" * 100)
    write_image(frames / "small.png", data.astronaut()[:20, :30])
    jpg = frames / "cut.jpg"
    write_image(jpg, data.coffee())
    jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    sources, failures = F.scan_sources(frames, (64, 36))
    assert [s.rel for s in sources] == ["good.mp4"]
    reasons = {f.file.rsplit("/", 1)[-1]: f.reason for f in failures}
    assert set(reasons) == {"empty.mp4", "junk.mov", "small.png", "cut.jpg"}
    assert "smaller than --size 64x36" in reasons["small.png"] and "--allow-upscale" in reasons["small.png"]
    assert "truncated" in reasons["cut.jpg"] or "cannot decode" in reasons["cut.jpg"]
    assert all("\n" not in r for r in reasons.values())
    sources, failures = F.scan_sources(frames, (64, 36), allow_upscale=True)
    assert "small.png" in [s.rel for s in sources]
    assert good.exists()


def test_truncated_video_is_reported_at_selection(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    path = write_video(frames / "cut.mp4", pan_frames(data.astronaut(), 60))
    sources, _ = F.scan_sources(frames, (64, 36))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])  # cut after probing
    picked, _, failures = F.select_frames(sources, 5)
    assert picked == [] and len(failures) == 1 and failures[0].file.endswith("cut.mp4")


def test_empty_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no image or video files found"):
        F.scan_sources(tmp_path, (64, 36))
