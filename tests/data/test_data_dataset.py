"""uhr4k.data.dataset: seeded, aligned crops that do not depend on workers, ranks or request order."""
import pytest
import torch

from uhr4k.data import PairedDataset, find_pairs
from uhr4k.errors import InputError

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
