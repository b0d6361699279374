"""Finding pairs in the public layouts and UHR4K roots; seeded crops; the crop cache."""
import os

import numpy as np
import pytest
import torch

from uhr4k import layout
from uhr4k.data import PairedDataset, find_pairs, normalize_stem, read_pair
from uhr4k.data.cache import CACHE_DIR, CachedReader, build_cache
from uhr4k.errors import InputError
from uhr4k.files import write_image


def _img(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pairs_folder(root, names, inp="input", tgt="target", h=40, w=60):
    for i, (a, b) in enumerate(names):
        target = _img(h, w, i)
        if a:
            write_image(root / inp / a, 255 - target)     # input = 255 - target: pixel-exact relation
        if b:
            write_image(root / tgt / b, target)
    return root


def test_public_samples(shared_data):
    rain = find_pairs(shared_data / "rain100h-sample")
    assert [p.id for p in rain] == [str(i) for i in range(1, 11)]           # natural order
    assert all(p.input.parent.name == "input" and p.target.parent.name == "target" for p in rain)
    refl = find_pairs(shared_data / "reflection-real-sample")
    assert len(refl) == 6 and refl[0].target.parent.name == "transmission"


def test_original_rain100_and_ohaze_naming(tmp_path):
    flat = tmp_path / "Rain100L"
    for i in (1, 2, 10):
        write_image(flat / f"rain-{i:03d}.png", _img(8, 8, i))
        write_image(flat / f"norain-{i:03d}.png", _img(8, 8, i))
    pairs = find_pairs(flat)
    assert [p.id for p in pairs] == ["001", "002", "010"]
    assert pairs[0].input.name == "rain-001.png" and pairs[0].target.name == "norain-001.png"
    oh = _pairs_folder(tmp_path / "O-HAZE", [("01_outdoor_hazy.jpg", "01_outdoor_GT.jpg"),
                                              ("02_outdoor_hazy.jpg", "02_outdoor_GT.jpg")], "hazy", "GT")
    assert [p.id for p in find_pairs(oh)] == ["01_outdoor", "02_outdoor"]
    assert normalize_stem("norain-012") == "012" and normalize_stem("IMG_0001") == "img_0001"


def test_split_folder_and_presets(tmp_path, monkeypatch):
    _pairs_folder(tmp_path / "Rain100H" / "test", [("1.png", "1.png")])
    monkeypatch.setenv("UHR4K_DATA", str(tmp_path))
    assert len(find_pairs("rain100h")) == 1
    assert len(find_pairs(f"rain100l={tmp_path / 'Rain100H'}")) == 1
    with pytest.raises(InputError, match="preset 'real20' not found"):
        find_pairs("real20")
    with pytest.raises(InputError, match="not a folder nor a preset"):
        find_pairs(tmp_path / "nowhere")


def test_unpaired_files_are_named(tmp_path):
    root = _pairs_folder(tmp_path / "set", [("1.png", "1.png"), ("2.png", None), (None, "3.png")])
    with pytest.raises(InputError) as exc:
        find_pairs(root)
    msg = str(exc.value)
    assert "2 file(s) without a partner" in msg and "input/2.png" in msg and "target/3.png" in msg
    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "target").mkdir()
    with pytest.raises(InputError, match="no image pairs found"):
        find_pairs(tmp_path / "empty")
    (tmp_path / "odd" / "photos").mkdir(parents=True)
    with pytest.raises(InputError, match="unknown layout"):
        find_pairs(tmp_path / "odd")


def _uhr4k_root(root):
    rows = []
    for sub in ("syn", "rain"):
        for i, (split, scene) in enumerate([("test", "videoA"), ("test", "videoA"), ("train", "videoB")]):
            paths = layout.pair_paths(sub, split, f"{sub}{i}")
            target = _img(20, 30, i)
            write_image(root / paths["input"], 255 - target)
            write_image(root / paths["target"], target)
            rows.append(layout.make_row(id=f"{sub}{i}", subset=layout.subset(sub).name, split=split, scene=scene,
                                        input=paths["input"], target=paths["target"]))
    layout.write_manifest(root, rows)
    return root


def test_uhr4k_root_with_manifest(tmp_path):
    root = _uhr4k_root(tmp_path / "uhr4k")
    pairs = find_pairs(root, subset="syn", split="test")
    assert [(p.id, p.scene) for p in pairs] == [("syn0", "videoA"), ("syn1", "videoA")]
    assert [p.id for p in find_pairs(root, subset="UHR4K-Rain", split="train")] == ["rain2"]
    with pytest.raises(InputError, match="holds subsets syn, rain: choose one"):
        find_pairs(root)
    os.remove(root / "UHR4K-Syn/test/target/syn1.png")
    with pytest.raises(InputError, match="syn1.png: listed in manifest.csv but missing"):
        find_pairs(root, subset="syn")


def test_size_mismatch_names_both_files(tmp_path):
    root = tmp_path / "set"
    write_image(root / "input" / "1.png", _img(10, 12, 0))
    write_image(root / "target" / "1.png", _img(10, 14, 0))
    pair = find_pairs(root)[0]
    with pytest.raises(InputError) as exc:
        read_pair(pair)
    assert str(exc.value).startswith(str(pair.input)) and str(pair.target) in str(exc.value)
    assert "12x10" in str(exc.value) and "14x10" in str(exc.value)


def test_crops_are_seeded_aligned_and_fixed_size(tmp_path):
    root = _pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(4)], h=50, w=70)
    pairs = find_pairs(root)
    ds = PairedDataset(pairs, crop=(32, 20), augment=True, seed=7, use_cache=False)
    items = [ds[i] for i in range(4)]
    for it in items:
        assert it["input"].shape == (3, 20, 32) and it["target"].shape == (3, 20, 32)
        # the input and target crops cover the same pixels in the same orientation
        assert torch.allclose(it["input"], 1 - it["target"], atol=1e-6)
    again = [ds[i] for i in reversed(range(4))][::-1]          # order of requests does not matter
    assert all(torch.equal(a["input"], b["input"]) for a, b in zip(items, again, strict=True))
    draws = {ds.draw(0, 50, 70)}
    for epoch in range(1, 6):
        ds.set_epoch(epoch)
        draws.add(ds.draw(0, 50, 70))
    assert len(draws) > 3                                       # new crops every epoch
    rotations = {PairedDataset(pairs, (32, 20), True, seed=s).draw(0, 50, 70)[4] for s in range(40)}
    assert rotations == {0, 1, 2, 3}
    with pytest.raises(InputError, match="crop 80x20 larger than the image"):
        PairedDataset(pairs, crop=(80, 20))[0]


def test_full_images_without_crop(shared_data):
    ds = PairedDataset(find_pairs(shared_data / "rain100h-sample"))
    item = ds[0]
    assert item["input"].shape == (3, 320, 480) and item["input"].dtype == torch.float32
    assert 0 <= item["input"].min() and item["input"].max() <= 1


def test_cache_gives_the_same_crops_and_never_stale_ones(tmp_path):
    root = _pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(3)], h=50, w=70)
    write_image(root / "input" / "bad.png", _img(5, 5, 0))
    (root / "input" / "bad.png").write_bytes(b"not a png")
    summary = build_cache(root)
    assert summary.written == 6 and len(summary.failed) == 1 and "bad.png" in summary.failed[0]
    (root / "input" / "bad.png").unlink()
    pairs = find_pairs(root)
    plain = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3, use_cache=False)
    cached = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3)
    reader = cached._reader
    assert reader.entry(pairs[0].input) is not None
    for i in range(3):
        assert torch.equal(plain[i]["input"], cached[i]["input"])
        assert torch.equal(plain[i]["target"], cached[i]["target"])
    # a source changed after caching is read from the PNG again, and a rerun recaches only it
    write_image(pairs[1].target, _img(50, 70, 99))
    assert CachedReader().entry(pairs[1].target) is None
    fresh = PairedDataset(pairs, crop=(24, 16), augment=True, seed=3)
    assert torch.equal(fresh[1]["target"], PairedDataset(pairs, (24, 16), True, 3, use_cache=False)[1]["target"])
    again = build_cache(root)
    assert (again.written, again.kept) == (1, 5)
    assert not list((root / CACHE_DIR).rglob("*.part"))


def test_crops_do_not_depend_on_workers_or_ranks(tmp_path):
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler
    root = _pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(4)], h=30, w=40)
    ds = PairedDataset(find_pairs(root), crop=(16, 12), augment=True, seed=5)
    ds.set_epoch(2)
    direct = {ds[i]["id"]: ds[i]["input"] for i in range(4)}
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    for batch in loader:
        for i, sample_id in enumerate(batch["id"]):
            assert torch.equal(batch["input"][i], direct[sample_id])
    seen = {}
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sampler.set_epoch(2)
        for index in sampler:
            item = ds[index]
            seen[item["id"]] = item["input"]
    assert set(seen) == set(direct) and all(torch.equal(seen[k], direct[k]) for k in direct)
