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


def test_a_cache_made_with_one_index_file_is_still_used_and_becomes_records(tmp_path, monkeypatch):
    """Caches made before the per-image records kept every entry in ``.uhr4k-cache/index.json``
    (``{rel: {"size", "mtime_ns", "shape", "dtype"}}``): training still reads them, and ``uhr4k cache``
    turns them into records without decoding anything again."""
    import json

    import numpy as np

    from uhr4k.core.images import read_image
    from uhr4k.core.records import fingerprint

    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(2)], h=50, w=70)
    pairs = find_pairs(root)
    index = {}
    for src in [p.input for p in pairs] + [p.target for p in pairs]:
        rel = src.relative_to(root).as_posix()
        img = read_image(src)
        (root / CACHE_DIR / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(root / CACHE_DIR / (rel + ".npy"), img)
        size, mtime_ns = fingerprint(src)
        index[rel] = {"size": size, "mtime_ns": mtime_ns, "shape": list(img.shape), "dtype": str(img.dtype)}
    (root / CACHE_DIR / "index.json").write_text(json.dumps(index, sort_keys=True, indent=0))
    plain = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3, use_cache=False)
    expected = [plain[i] for i in range(2)]
    with monkeypatch.context() as m:          # read from the old cache's arrays, never from the PNGs
        m.setattr("uhr4k.data.dataset.read_pair", lambda pair: pytest.fail(f"decoded {pair.input}"))
        cached = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3)
        assert all(torch.equal(expected[i]["input"], cached[i]["input"]) for i in range(2))
        m.setattr("uhr4k.data.cache.read_image", lambda path: pytest.fail(f"decoded {path}"))
        summary = build_cache(root)
    assert (summary.written, summary.kept) == (0, 4) and not (root / CACHE_DIR / "index.json").exists()
    assert len(list((root / CACHE_DIR).rglob("*.png.json"))) == 4
    again = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3)
    assert all(torch.equal(expected[i]["target"], again[i]["target"]) for i in range(2))
    assert (build_cache(root).written, build_cache(root).kept) == (0, 4)
