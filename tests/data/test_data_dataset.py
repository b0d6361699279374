"""uhr4k.data.dataset: seeded, aligned crops that do not depend on workers, ranks or request order."""
import pytest
import torch

from uhr4k.core.errors import InputError
from uhr4k.data import PairedDataset, find_pairs

from data_material import pairs_folder


def test_crops_are_seeded_aligned_and_fixed_size(tmp_path):
    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(4)], h=50, w=70)
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


def test_crops_do_not_depend_on_workers_or_ranks(tmp_path):
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler
    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(4)], h=30, w=40)
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


def test_to_tensor_of_any_view_equals_the_plain_conversion():
    """One pass from a strided view (a rotated, flipped crop) gives exactly to_float's values, planar and
    contiguous, for 8 and 16 bits."""
    import numpy as np

    from uhr4k.core.images import to_float
    from uhr4k.data import to_tensor

    rng = np.random.default_rng(0)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        img = rng.integers(0, top + 1, (30, 40, 3)).astype(dtype)
        view = np.rot90(img[3:23, 5:37], 1, axes=(0, 1))[::-1, ::-1]
        t = to_tensor(view)
        assert t.dtype == torch.float32 and t.is_contiguous() and tuple(t.shape) == (3, 32, 20)
        assert torch.equal(t, torch.from_numpy(np.ascontiguousarray(to_float(np.ascontiguousarray(view))
                                                                    .transpose(2, 0, 1))))


def test_cached_crops_are_the_drawn_regions_rotated_and_flipped(tmp_path):
    """Each cached item is exactly its drawn region of the image, rotated and flipped as drawn."""
    import numpy as np

    from uhr4k.core.images import read_image
    from uhr4k.data.cache import build_cache

    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(3)], h=50, w=70)
    build_cache(root)
    pairs = find_pairs(root)
    ds = PairedDataset(pairs, crop=(32, 20), augment=True, seed=5)
    seen = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i, pair in enumerate(pairs):
            top, left, ch, cw, k, hflip, vflip = ds.draw(i, 50, 70)
            seen.add((k, hflip, vflip))
            region = np.rot90(read_image(pair.target)[top:top + ch, left:left + cw], k, axes=(0, 1))
            region = region[:, ::-1] if hflip else region
            region = region[::-1] if vflip else region
            expected = torch.from_numpy(region.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255))
            assert torch.equal(ds[i]["target"], expected)
    assert len(seen) > 4


def test_transport_items_become_the_same_floats_on_the_device(tmp_path):
    """transport=True sends 8-bit crops as uint8 (a quarter of the bytes through the workers) and
    unit_float makes them exactly the floats of the default items; a batch mixing 8- and 16-bit images
    is scaled item by item instead of stacked raw."""
    import numpy as np

    from uhr4k.data.crops import to_tensor
    from uhr4k.data.dataset import collate_transport, to_transport, unit_float

    root = pairs_folder(tmp_path / "set", [(f"{i}.png", f"{i}.png") for i in range(2)], h=50, w=70)
    pairs = find_pairs(root)
    plain = PairedDataset(pairs, crop=(32, 20), augment=True, seed=2)
    sent = PairedDataset(pairs, crop=(32, 20), augment=True, seed=2, transport=True)
    batch = collate_transport([sent[0], sent[1]])
    assert batch["input"].dtype == torch.uint8 and batch["id"] == [pairs[0].id, pairs[1].id]
    assert torch.equal(unit_float(batch["input"]), torch.stack([plain[0]["input"], plain[1]["input"]]))
    assert torch.equal(unit_float(batch["target"]), torch.stack([plain[0]["target"], plain[1]["target"]]))
    deep = np.full((20, 32, 3), 65535, np.uint16)
    assert to_transport(deep).dtype == torch.float32
    mixed = collate_transport([{"input": to_transport(deep), "target": to_transport(deep), "id": "a"},
                               {"input": sent[0]["input"], "target": sent[0]["target"], "id": "b"}])
    assert mixed["input"].dtype == torch.float32
    assert torch.equal(mixed["input"][0], torch.ones(3, 20, 32))
    assert torch.equal(mixed["input"][1], plain[0]["input"])
    assert torch.equal(to_tensor(deep), unit_float(to_transport(deep)))
