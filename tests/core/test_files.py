import hashlib
import os

import numpy as np
import pytest

from uhr4k.core import atomic, images, media
from uhr4k.core import video as vid
from uhr4k.core.errors import InputError


def _random_image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    hi = np.iinfo(dtype).max
    return rng.integers(0, hi + 1, size=shape, dtype=np.uint32).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_round_trip_keeps_every_pixel_and_depth(tmp_path, dtype):
    img = _random_image((37, 53, 3), dtype)
    digest = images.write_image(tmp_path / "a.png", img)
    back = images.read_image(tmp_path / "a.png")
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, img)
    assert digest == hashlib.sha256((tmp_path / "a.png").read_bytes()).hexdigest()
    assert digest == atomic.sha256_file(tmp_path / "a.png")


def _smooth_image(dtype):
    """Flat 8x8 blocks plus faint noise: it compresses, so the zlib level and filters shape its bytes."""
    rng = np.random.default_rng(3)
    img = np.kron(rng.random((8, 6, 3)), np.ones((8, 8, 1))) + rng.normal(0, 0.01, (64, 48, 3))
    return (np.clip(img, 0, 1) * np.iinfo(dtype).max).round().astype(dtype)


# SHA-256 of the PNG bytes of _smooth_image: pinned, so that an encoder change (another zlib level, an
# OpenCV whose libpng filters differently) fails here instead of silently changing every dataset's bytes.
GOLDEN_PNG = {"uint8": "57060beba47571ac598e4f586613f4f7d902140cba2214b0198f68e18b9d4882",
              "uint16": "ac443ceda5b60a1dbd4a68d048bb7d29782a04b758c7de2ab07952642835d14f"}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_encoding_gives_the_pinned_bytes(tmp_path, dtype):
    img = _smooth_image(dtype)
    digest = images.write_image(tmp_path / "a.png", img)
    assert digest == GOLDEN_PNG[np.dtype(dtype).name], (
        "PNG bytes changed: datasets built before this change are no longer byte-identical to new builds")
    np.testing.assert_array_equal(images.read_image(tmp_path / "a.png"), img)


def test_channel_order_is_rgb(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = 255  # pure red
    images.write_image(tmp_path / "red.png", img)
    from PIL import Image
    assert Image.open(tmp_path / "red.png").getpixel((0, 0)) == (255, 0, 0)
    np.testing.assert_array_equal(images.read_image(tmp_path / "red.png"), img)


def test_jpeg_is_close_and_gray_expands(tmp_path):
    img = np.full((32, 32, 3), 128, np.uint8)
    images.write_image(tmp_path / "g.jpg", img)
    assert np.abs(images.read_image(tmp_path / "g.jpg").astype(int) - 128).max() <= 2
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    images.write_image(tmp_path / "gray.png", gray)
    back = images.read_image(tmp_path / "gray.png")
    assert back.shape == (8, 8, 3) and (back[..., 0] == gray).all() and (back[..., 2] == gray).all()


def test_to_uint8_rounds_and_float_round_trip():
    assert images.to_uint8(np.array([0, 128, 65535, 257 * 100 + 128], np.uint16)).tolist() == [0, 0, 255, 100]
    img = _random_image((5, 5, 3), np.uint8)
    np.testing.assert_array_equal(images.from_float(images.to_float(img)), img)
    assert images.from_float(np.array([-1.0, 0.5, 2.0])).tolist() == [0, 128, 255]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_two_float_conventions_stay_apart_bit_for_bit(dtype):
    """to_float multiplies by float32(1/255), to_float_divided divides by 255: call sites keep the one
    their outputs were made with, so each is pinned here to its formula, and their difference counted."""
    x = np.arange(np.iinfo(dtype).max + 1, dtype=dtype)
    top = np.float32(np.iinfo(dtype).max)
    multiplied, divided = images.to_float(x), images.to_float_divided(x)
    assert multiplied.dtype == divided.dtype == np.float32
    reciprocal = np.float32(1.0 / float(top))
    np.testing.assert_array_equal(multiplied.view(np.uint32), (x.astype(np.float32) * reciprocal).view(np.uint32))
    np.testing.assert_array_equal(divided.view(np.uint32), (x.astype(np.float32) / top).view(np.uint32))
    assert int((multiplied != divided).sum()) == {np.uint8: 126, np.uint16: 512}[dtype]
    view = np.stack([x[:256]] * 3, axis=-1).reshape(16, 16, 3)[::-1, ::2].transpose(2, 0, 1)   # strided
    out = np.empty(view.shape, np.float32)
    assert images.to_float(view, out=out) is out
    np.testing.assert_array_equal(out, images.to_float(np.ascontiguousarray(view)))


def test_from_float_rounds_half_up_and_the_saturated_twin_half_to_even():
    halves = (np.arange(4, dtype=np.float32) + 0.5) / np.float32(255)      # 0.5, 1.5, 2.5, 3.5 after scaling
    assert images.from_float(halves).tolist() == [1, 2, 3, 4]
    assert images.from_float_saturated(halves).tolist() == [0, 2, 2, 4]
    assert images.from_float_saturated(np.array([-0.2, 0.2, 1.5], np.float32)).tolist() == [51, 51, 255]
    assert images.from_float_saturated(np.array([0.5], np.float32), gain=0.5).tolist() == [64]   # 63.75


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_image_is_a_clear_error(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    data = images.encode_image(_random_image((64, 64, 3), np.uint8), suffix)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        images.read_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        images.read_image(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="junk.png"):
        images.read_image(tmp_path / "junk.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        images.read_image(tmp_path / "empty.png")


def test_image_header_check_reads_the_size_and_refuses_bad_files_without_decoding(tmp_path):
    """One check for bench (every pair before any model runs) and build-syn (every reflection photo)."""
    import struct
    import zlib

    png = images.encode_image(_random_image((30, 40, 3), np.uint8), ".png")
    (tmp_path / "a.png").write_bytes(png)
    assert images.check_image_header(tmp_path / "a.png") == (40, 30)
    assert images.check_image_header(tmp_path / "a.png", verify=True) == (40, 30)
    images.write_image(tmp_path / "a.jpg", _random_image((30, 40, 3), np.uint8))
    assert images.check_image_header(tmp_path / "a.jpg", verify=True) == (40, 30)
    damaged = bytearray(png)
    damaged[60] ^= 0xFF                                 # inside the pixel data: only the CRC says so
    (tmp_path / "crc.png").write_bytes(bytes(damaged))
    assert images.check_image_header(tmp_path / "crc.png") == (40, 30)
    (tmp_path / "cut.png").write_bytes(png[:-20])
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    (tmp_path / "empty.png").write_bytes(b"")

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", 10**5, 10**5, 8, 2, 0, 0, 0)      # 10^10 pixels claimed
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                        + chunk(b"IDAT", zlib.compress(b"\x00" * 49)) + chunk(b"IEND", b""))
    for name, verify, reason in (("nope.png", False, "no such file"), ("empty.png", False, "empty file"),
                                 ("junk.png", False, "cannot read image header (cannot identify image file"),
                                 ("bomb.png", False, "its header claims more pixels"),
                                 ("cut.png", False, "truncated image file"),
                                 ("crc.png", True, "cannot read image header (")):
        with pytest.raises(InputError) as info:
            images.check_image_header(tmp_path / name, verify=verify)
        assert str(info.value).startswith(f"{tmp_path / name}: {reason}") and "\n" not in str(info.value), name


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old"  # the previous file is untouched
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary left behind


def test_list_media_sorted_and_errors(tmp_path):
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mp4").write_bytes(b"x")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in media.list_media(tmp_path)] == ["b.png", "a.mp4"]
    assert [p.name for p in media.list_media(tmp_path, kinds=("video",))] == ["a.mp4"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image or video files"):
        media.list_media(tmp_path / "empty")
    with pytest.raises(InputError, match="not a folder"):
        media.list_media(tmp_path / "missing")


def test_video_streaming_on_real_video(shared_data):
    video = shared_data / "media" / "realshort_320x240.mp4"
    n, fps, size = vid.probe_video(video)
    assert n == 36 and size == (320, 240) and fps > 0
    frames = list(vid.iter_video_frames(video, wanted=[0, 5, 35]))
    assert [i for i, _ in frames] == [0, 5, 35]
    assert all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for _, f in frames)
    assert not np.array_equal(frames[0][1], frames[2][1])
    # the same frame decoded twice is the same bytes (deterministic decoding)
    again = dict(vid.iter_video_frames(video, wanted=[5]))
    np.testing.assert_array_equal(again[5], frames[1][1])


@pytest.mark.parametrize("name", ["realshort_320x240.mp4", "cockatoo_1280x720.mp4"])
def test_the_one_ffmpeg_driver_decodes_the_pixels_of_imageio_ffmpegs_reader(shared_data, name):
    """Sequential, selected and seeked frames of core.video are the bytes imageio-ffmpeg's own reader gives
    (what iter_video_frames decoded with before the driver was shared with build-syn's frame selection)."""
    import imageio_ffmpeg

    video = shared_data / "media" / name
    wanted = [0, 1, 9, 17, 35]
    reader = imageio_ffmpeg.read_frames(str(video), output_params=["-frames:v", str(wanted[-1] + 1)])
    width, height = reader.__next__()["size"]
    reference = {i: np.frombuffer(raw, np.uint8).reshape(height, width, 3) for i, raw in enumerate(reader)}
    streamed = dict(vid.iter_video_frames(video, wanted))
    selected = dict(vid.decode_selected(video, wanted, (width, height)))
    _, fps, size = vid.probe_video(video)
    assert size == (width, height) and sorted(streamed) == sorted(selected) == wanted
    for i in wanted:
        np.testing.assert_array_equal(streamed[i], reference[i])
        np.testing.assert_array_equal(selected[i], reference[i])
    np.testing.assert_array_equal(vid.seek_frame(video, 17, fps, size), reference[17])


def test_truncated_and_bogus_video(tmp_path, shared_data):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    with pytest.raises(InputError, match=r"bogus\.mp4: cannot read video"):
        vid.probe_video(bogus)
    # this file keeps its index (moov) at the end: cut short, it loses it and cannot even be probed
    data = (shared_data / "media" / "realshort_320x240.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"cut\.mp4: cannot read video"):
        vid.probe_video(cut)
    with pytest.raises(InputError, match=r"cut\.mp4: cannot read video"):
        list(vid.iter_video_frames(cut, wanted=[0]))


def test_video_cut_after_its_index_is_caught_by_probe_and_decode(tmp_path):
    """With the index at the front (faststart) a cut video still opens: probing counts what decodes and
    calls it truncated; decoding the frames before the cut works, past it fails naming the frame."""
    import imageio_ffmpeg

    path = tmp_path / "v.mp4"
    writer = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=10, codec="libx264", macro_block_size=16,
                                         output_params=["-movflags", "+faststart", "-g", "1"],
                                         ffmpeg_log_level="error")
    writer.send(None)
    for i in range(40):
        writer.send(_random_image((48, 64, 3), np.uint8, seed=i))
    writer.close()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(InputError, match=r"cut\.mp4: truncated video: \d+ decodable frames of the 40 its container"):
        vid.probe_video(cut)
    assert [i for i, _ in vid.iter_video_frames(cut, wanted=[0])] == [0]
    with pytest.raises(InputError, match=r"cut\.mp4: video ends at frame \d+ before wanted frame 35"):
        list(vid.iter_video_frames(cut, wanted=[35]))


def test_the_exif_orientation_of_a_phone_jpeg_is_applied_and_reported(tmp_path):
    from PIL import Image

    from uhr4k.core.images import exif_orientation

    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:, :12] = 255                                   # a white band on the left of the stored pixels
    im = Image.fromarray(upright)
    exif = im.getexif()
    exif[0x0112] = 6                                        # "rotate 90 degrees clockwise to display"
    im.save(tmp_path / "portrait.jpg", exif=exif.tobytes(), quality=95)
    shown = images.read_image(tmp_path / "portrait.jpg")
    assert shown.shape == (60, 40, 3) and exif_orientation(tmp_path / "portrait.jpg") == 6
    assert shown[:12].mean() > 200 and shown[-12:].mean() < 50   # the band is now on top, as viewers show it
    assert exif_orientation(tmp_path / "none.jpg") == 1


def test_a_damaged_png_is_one_reason_and_no_stray_libpng_line(tmp_path, capfd):
    path = tmp_path / "c.png"
    images.write_image(path, np.random.default_rng(0).integers(0, 255, (50, 50, 3), np.uint8))
    data = bytearray(path.read_bytes())
    data[200:260] = b"\x00" * 60                           # damaged inside, its end marker intact
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"c\.png: cannot decode image \(libpng error: .+\)"):
        images.read_image(path)
    assert "libpng" not in capfd.readouterr().err
