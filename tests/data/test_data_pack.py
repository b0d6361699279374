"""`uhr4k pack`: WebDataset shards and a Hugging Face folder read back by their own libraries, checksums
checked, the dataset card, and training crops streamed from the shards equal to those of the PNG tree."""
import hashlib
import json
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

from uhr4k import layout
from uhr4k.cli import cli
from uhr4k.core.images import read_image, write_image
from uhr4k.data import PairedDataset, find_pairs
from uhr4k.data.pack import pack
from uhr4k.data.shards import ShardPairs
from uhr4k.layout.card import card_facts, read_card_meta

SPLITS = {"syn": {"train": 3, "val": 1, "test": 2}, "rain": {"train": 2, "test": 1}}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A small UHR4K root: Syn and Rain pairs (48x32 and one 40x32) with layers, params and checksums."""
    root = tmp_path_factory.mktemp("pack") / "uhr4k"
    rng = np.random.default_rng(0)
    rows = []
    for key, splits in SPLITS.items():
        sub = layout.subset(key)
        for split, n in splits.items():
            for i in range(n):
                sample_id = f"{key}{split}{i}.v1" if i == 0 else f"{key}{split}{i}"   # a dot in an id
                w = 40 if (key, split, i) == ("rain", "train", 1) else 48
                paths = layout.pair_paths(sub, split, sample_id)
                for role in ("input", "target", "layer"):
                    write_image(root / paths[role], rng.integers(0, 256, (32, w, 3), dtype=np.uint8))
                params = {"alpha": float(rng.uniform(0.1, 0.4)), "layers": [{"opacity": 0.5 + 0.1 * i}]}
                rows.append(layout.make_row(
                    id=sample_id, subset=sub.name, split=split, scene=f"scene{i % 2}", source="test.mp4",
                    width=w, height=32, seed=i, params=params, **paths,
                    **{f"sha256_{r}": _sha(root / paths[r]) for r in ("input", "target", "layer")}))
    layout.write_manifest(root, rows)
    return root


def _manifest_by_id(root):
    return {r["id"]: r for r in layout.read_manifest(root)}


def test_webdataset_shards_read_back_by_webdataset(root, tmp_path):
    import webdataset as wds

    out = tmp_path / "shards"
    res = CliRunner().invoke(cli, ["pack", str(root), "--out", str(out), "--shard-size", "1", "--quiet",
                                   "--license", "cc-by-4.0", "--source-license", "videos=CC-BY-4.0"])
    assert res.exit_code == 0, res.output
    index = json.loads((out / "index.json").read_text())
    syn_train = [s for s in index["shards"] if s["path"].startswith("UHR4K-Syn/train-")]
    # a shard closes at the first sample end past --shard-size: 1 byte makes one sample per shard
    assert [s["name"] for s in syn_train] == ["train-000000.tar", "train-000001.tar", "train-000002.tar"]
    assert {s["samples"] for s in index["shards"]} == {1} and len(index["shards"]) == 9
    # SHA256SUMS is sha256sum -c format and true
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert _sha(out / name) == digest
    manifest = _manifest_by_id(root)
    seen = []
    for shard in index["shards"]:
        for sample in wds.WebDataset(str(out / shard["path"]), shardshuffle=False).decode("rgb8"):
            record = sample["json"]
            row = manifest[record["id"]]
            seen.append(record["id"])
            for role in ("input", "target", "layer"):
                np.testing.assert_array_equal(sample[f"{role}.png"], read_image(root / row[role]))
            assert record["params"] == json.loads(row["params"]) and record["width"] == int(row["width"])
            assert {k: v for k, v in record.items() if k not in ("params", "width", "height", "seed", "index")} \
                == {k: v for k, v in row.items() if k not in ("params", "width", "height", "seed")}
            assert sample["__key__"] == record["id"].replace(".", "_")
    assert sorted(seen) == sorted(manifest)
    # members carry fixed metadata: the same root packs to the same bytes
    with tarfile.open(out / syn_train[0]["path"]) as tar:
        assert {(m.mtime, m.uid, m.mode) for m in tar.getmembers()} == {(0, 0, 0o644)}
    again = tmp_path / "again"
    pack(root, again, shard_bytes=1, progress=False, card={"command": "x"})
    assert [(s["path"], s["sha256"]) for s in json.loads((again / "index.json").read_text())["shards"]] == \
        [(s["path"], s["sha256"]) for s in json.loads((out / "index.json").read_text())["shards"]]
    whole = tmp_path / "one-per-split"
    pack(root, whole, progress=False, card={"command": "x"})            # 1 GB: one shard per subset and split
    assert [s["samples"] for s in json.loads((whole / "index.json").read_text())["shards"]] == [3, 1, 2, 2, 1]
    assert [_sha(again / s["path"]) for s in index["shards"]] == [s["sha256"] for s in index["shards"]]


def test_hf_folder_read_back_by_datasets(root, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    out = tmp_path / "hf"
    pack(root, out, "hf", progress=False, card={"license": "cc-by-4.0", "command": "uhr4k pack"})
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out))
    assert sorted(loaded) == ["test", "train", "validation"]
    assert len(loaded["train"]) == 5 and len(loaded["validation"]) == 1 and len(loaded["test"]) == 3
    manifest = _manifest_by_id(root)
    for split in loaded.values():
        for sample in split:
            row = manifest[sample["id"]]
            for role in ("input", "target", "layer"):
                np.testing.assert_array_equal(np.asarray(sample[role].convert("RGB")), read_image(root / row[role]))
            assert json.loads(sample["params"]) == json.loads(row["params"])
            assert (sample["subset"], sample["split"], sample["sha256_target"]) == \
                (row["subset"], row["split"], row["sha256_target"])
    # the card's configs make the folder loadable by name alone, with the same splits
    by_card = datasets.load_dataset(str(out))
    assert {k: len(v) for k, v in by_card.items()} == {k: len(v) for k, v in loaded.items()}


def test_a_corrupt_file_fails_naming_it_and_leaves_nothing(root, tmp_path):
    victim = root / layout.pair_paths("rain", "test", "raintest0.v1")["target"]
    original = victim.read_bytes()
    try:
        data = bytearray(original)
        data[-20] ^= 0xFF
        victim.write_bytes(bytes(data))
        out = tmp_path / "bad"
        res = CliRunner().invoke(cli, ["pack", str(root), "--out", str(out), "--quiet"])
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert res.output.strip() == (f"error: {victim.resolve()}: checksum differs from the manifest's "
                                      "sha256_target (file changed or corrupt)")
        assert not out.exists()
    finally:
        victim.write_bytes(original)
    for args, message in (([str(root), "--out", str(root / "inside")], "must not be inside"),
                          ([str(root), "--out", str(tmp_path / "o"), "--shard-size", "big"], "--shard-size"),
                          ([str(root), "--out", str(tmp_path / "o"), "--source-license", "cc0"], "NAME=LICENSE")):
        res = CliRunner().invoke(cli, ["pack", *args])
        assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1


def test_card_front_matter(root, tmp_path):
    import yaml

    out = tmp_path / "shards"
    pack(root, out, progress=False, card={"license": "cc-by-4.0", "command": "uhr4k pack r --out s",
                                          "sources": [{"name": "videos", "license": "CC-BY-4.0"}]})
    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta == read_card_meta(out)
    assert meta["license"] == "cc-by-4.0" and meta["task_categories"] == ["image-to-image"]
    assert {"reflection-removal", "deraining"} <= set(meta["tags"]) and meta["size_categories"] == ["n<1K"]
    u = meta["uhr4k"]
    assert u["command"] == "uhr4k pack r --out s" and u["sources"] == [{"name": "videos", "license": "CC-BY-4.0"}]
    assert u["splits"] == {"UHR4K-Syn": {"train": 3, "val": 1, "test": 2}, "UHR4K-Rain": {"train": 2, "val": 0,
                                                                                         "test": 1}}
    assert u["image_sizes"] == {"40x32": 1, "48x32": 8}
    alphas = [json.loads(r["params"])["alpha"] for r in layout.read_manifest(root) if r["subset"] == "UHR4K-Syn"]
    assert u["parameters"]["UHR4K-Syn"]["alpha"] == [round(min(alphas), 6), round(max(alphas), 6)]
    assert u["parameters"]["UHR4K-Syn"]["layers.count"] == [1.0, 1.0]
    assert card_facts(layout.read_manifest(root)) == {k: u[k] for k in ("splits", "image_sizes", "parameters")}


def test_shards_stream_the_same_seeded_crops_as_the_png_tree(root, tmp_path):
    out = tmp_path / "shards"
    pack(root, out, shard_bytes=20_000, progress=False, card={"command": "x"})
    pairs = find_pairs(str(root), subset="syn", split="train")
    tree = PairedDataset(pairs, crop=(24, 16), augment=True, seed=7, use_cache=False)
    stream = PairedDataset.from_shards(out, "syn", "train", crop=(24, 16), augment=True, seed=7)
    assert isinstance(stream, ShardPairs)
    assert len(stream) == len(tree) == 3
    for epoch in (0, 1):
        tree.set_epoch(epoch)
        stream.set_epoch(epoch)
        streamed = {item["id"]: item for item in stream}
        for i in range(len(tree)):
            expected = tree[i]
            got = streamed[expected["id"]]
            for key in ("input", "target"):
                assert got[key].shape == (3, 16, 24)
                assert bool((got[key] == expected[key]).all())
    # shuffled: every sample once per epoch, the order drawn from (seed, epoch), the crops unchanged
    mixed = ShardPairs(out, "syn", "train", crop=(24, 16), augment=True, seed=7, shuffle=True, buffer=2)
    orders = []
    for epoch in range(6):
        mixed.set_epoch(epoch)
        tree.set_epoch(epoch)
        items = list(mixed)
        orders.append([i["id"] for i in items])
        assert sorted(orders[-1]) == sorted(p.id for p in pairs)
        expected = {tree[i]["id"]: tree[i]["input"] for i in range(len(tree))}
        assert all(bool((i["input"] == expected[i["id"]]).all()) for i in items)
    assert len({tuple(o) for o in orders}) > 1
    assert [i["id"] for i in mixed] == orders[-1]                       # the same epoch gives the same order
    whole = next(iter(ShardPairs(out, "rain", "train")))
    assert whole["input"].shape[1:] == (32, 48)
    # two DataLoader workers share the shards: every sample once
    from torch.utils.data import DataLoader
    ids = [i for batch in DataLoader(stream, batch_size=None, num_workers=2) for i in [batch["id"]]]
    assert sorted(ids) == sorted(p.id for p in pairs)
    # a changed shard is caught
    shard = out / json.loads((out / "index.json").read_text())["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF                  # in the trailing zero blocks: every member still reads
    shard.write_bytes(bytes(data))
    from uhr4k.core.errors import InputError
    with pytest.raises(InputError, match="shard checksum differs"):
        list(ShardPairs(out, "syn", "train"))


def test_pack_inherits_the_roots_declarations(root, tmp_path):
    from uhr4k.layout.card import write_card

    work = tmp_path / "copy"
    import shutil
    shutil.copytree(root, work)
    write_card(work, layout.read_manifest(work), license="cc-by-4.0", command="uhr4k build-syn --frames v",
               sources=[{"name": "videos", "license": "CC-BY-4.0"}])
    out = tmp_path / "shards"
    res = CliRunner().invoke(cli, ["pack", str(work), "--out", str(out), "--quiet", "--split", "test"])
    assert res.exit_code == 0, res.output
    meta = read_card_meta(out)
    assert meta["license"] == "cc-by-4.0" and meta["uhr4k"]["sources"] == [{"name": "videos", "license": "CC-BY-4.0"}]
    assert meta["uhr4k"]["commands"][0] == "uhr4k build-syn --frames v"
    assert meta["uhr4k"]["commands"][1].startswith("uhr4k pack ")
    assert meta["uhr4k"]["splits"] == {"UHR4K-Syn": {"train": 0, "val": 0, "test": 2},
                                       "UHR4K-Rain": {"train": 0, "val": 0, "test": 1}}


def test_damaged_shards_and_index_are_one_line_errors_naming_the_file(root, tmp_path):
    """A cut shard, a missing one, an index.json that is not JSON, lacks its keys or points outside its
    folder: each an InputError naming the file, never a tarfile / JSON / KeyError traceback."""
    import shutil

    from uhr4k.core.errors import InputError

    out = tmp_path / "shards"
    pack(root, out, progress=False, card={"command": "x"})
    index_path = out / "index.json"
    index = json.loads(index_path.read_text())
    first = next(s for s in index["shards"] if s["subset"] == "UHR4K-Syn" and s["split"] == "train")
    shard = out / first["path"]
    whole = shard.read_bytes()
    shard.write_bytes(whole[:len(whole) // 3])
    with pytest.raises(InputError, match="truncated or corrupt shard") as cut:
        list(ShardPairs(out, "syn", "train", verify=False))
    assert str(shard) in str(cut.value)
    shard.unlink()
    with pytest.raises(InputError, match="shard listed in index.json is missing"):
        list(ShardPairs(out, "syn", "train"))
    shard.write_bytes(whole)
    assert len(list(ShardPairs(out, "syn", "train"))) > 0
    for text, message in (("{not json", "unreadable index.json"), ('{"shards": 3}', "damaged index.json"),
                          (json.dumps({**index, "shards": [{**first, "path": "../escape.tar"}]}), "leads outside")):
        index_path.write_text(text)
        with pytest.raises(InputError, match=message) as caught:
            ShardPairs(out, "syn", "train")
        assert str(index_path) in str(caught.value) and "\n" not in str(caught.value)
    shutil.rmtree(out)


KILL_AT_RENAME = """
import os, signal, sys
from uhr4k.data.pack import pack

renames, real_replace = 0, os.replace

def replace_then_die(src, dst):   # dies before its {n}th rename: a temporary is open on disk
    global renames
    renames += 1
    if renames == {n}:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

os.replace = replace_then_die
pack(sys.argv[1], sys.argv[2], sys.argv[3], shard_bytes=1, progress=False)
"""


@pytest.mark.parametrize("fmt", ["webdataset", "hf"])
def test_a_killed_pack_leaves_only_temporaries_the_clean_up_removes(root, tmp_path, fmt):
    """SIGKILL mid-pack (no ``except`` runs): besides complete files under their final names, only
    temporaries named by :mod:`uhr4k.core.atomic` remain, and the start-up clean-up removes them all."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import uhr4k
    from uhr4k.core.atomic import remove_stale_temporaries

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(uhr4k.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", KILL_AT_RENAME.replace("{n}", "3"), str(root), str(out), fmt],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    temporaries = [p for p in files if p.name.startswith(".")]
    assert temporaries and all(p.name.endswith(".part") for p in temporaries), files
    assert remove_stale_temporaries(out) == len(temporaries)
    kept = [p for p in out.rglob("*") if p.is_file()]
    assert sorted(kept) == sorted(set(files) - set(temporaries)) and len(kept) == 2
    by_sha = {r[f"sha256_{role}"] for r in layout.read_manifest(root) for role in ("input", "target", "layer")}
    for path in kept:   # what was renamed into place is whole
        if fmt == "webdataset":
            with tarfile.open(path) as tar:
                assert len(tar.getnames()) == 4
        else:
            assert _sha(path) in by_sha
