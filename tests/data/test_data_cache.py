"""uhr4k.data.cache: the same crops as from the PNGs, and never a stale one."""
import pytest
import torch

from uhr4k.core.images import write_image
from uhr4k.data import PairedDataset, find_pairs
from uhr4k.data.cache import CACHE_DIR, CachedReader, build_cache

from data_material import image, pairs_folder


def test_cache_gives_the_same_crops_and_never_stale_ones(tmp_path, monkeypatch):
    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(3)], h=50, w=70)
    write_image(root / "input" / "bad.png", image(5, 5, 0))
    (root / "input" / "bad.png").write_bytes(b"not a png")
    summary = build_cache(root)
    assert summary.written == 6 and len(summary.failures) == 1 and "bad.png" in summary.failures[0]
    assert not summary.ok
    (root / "input" / "bad.png").unlink()
    pairs = find_pairs(root)
    plain = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3, use_cache=False)
    cached = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3)
    reader = cached._reader
    assert reader.entry(pairs[0].input) is not None
    expected = [plain[i] for i in range(3)]
    with monkeypatch.context() as m:          # the cached items come from the arrays, never from the PNGs
        m.setattr("uhr4k.data.dataset.read_pair", lambda pair: pytest.fail(f"decoded {pair.input}"))
        for i in range(3):
            assert torch.equal(expected[i]["input"], cached[i]["input"])
            assert torch.equal(expected[i]["target"], cached[i]["target"])
    # a source changed after caching is read from the PNG again, and a rerun recaches only it
    write_image(pairs[1].target, image(50, 70, 99))
    assert CachedReader().entry(pairs[1].target) is None
    fresh = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3)
    assert torch.equal(fresh[1]["target"], PairedDataset(pairs, (24, 16), True, 3, use_cache=False)[1]["target"])
    again = build_cache(root)
    assert (again.written, again.kept) == (1, 5)
    assert not list((root / CACHE_DIR).rglob("*.part"))


@pytest.mark.slow
def test_a_cut_cache_file_is_never_used_and_is_made_again(tmp_path):
    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(2)], h=50, w=70)
    assert build_cache(root, workers=2).written == 4
    pairs = find_pairs(root)
    npy = root / CACHE_DIR / (pairs[0].input.relative_to(root).as_posix() + ".npy")
    whole = npy.read_bytes()
    npy.write_bytes(whole[: len(whole) // 2])                  # a kill or a full disk cut it
    assert CachedReader().entry(pairs[0].input) is None       # training reads the PNG instead
    item = PairedDataset(pairs, crop=(24, 16), augment=False, seed=0)[0]
    assert torch.equal(item["input"], PairedDataset(pairs, (24, 16), False, 0, use_cache=False)[0]["input"])
    leftover = npy.with_name(f".{npy.stem}.4194304-0badf00d.npy.part")
    leftover.write_bytes(b"half")
    again = build_cache(root)
    assert (again.written, again.kept) == (1, 3) and npy.read_bytes() == whole and not leftover.exists()
