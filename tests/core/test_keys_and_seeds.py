"""Pinned values of the digests that key records on disk and of the seeded draws that decide output bytes.

Each constant was computed with the code as it was before digests, file stamps and seeds were given one
home (``uhr4k.core.records``, ``uhr4k.core.seeds``): a record written then must still be found, and a
dataset built then must still come out byte for byte.
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from uhr4k.core import seeds
from uhr4k.core.records import digest
from uhr4k.data.crops import draw_crop
from uhr4k.demo.run import DemoOptions
from uhr4k.demo.steps import StepRunner
from uhr4k.layout.scene_splits import assign_scene_splits
from uhr4k.synth.pipeline import BuildOptions, _sources_key, sample_seed, task_key

TASK = {"id": "clip-000001", "scene": "clip", "split": "train", "frame": {"rel": "clip.mp4", "index": 4},
        "fp": [10, 20], "size": [64, 36], "rain": {"seed": 5, "params": {"a": 0.5}}}
TRAINING = {"model": "glsgn", "kwargs": {"width": 8}, "data": "real20=/d", "recipe": [2, 1e-4, [32, 32], 0, None],
            "gpus": 1, "loss": "l1", "loss_kwargs": {}}


def test_build_syn_record_and_plan_keys_keep_their_values(tmp_path):
    assert task_key(TASK) == "06637bb741d364a6bef1913e"
    assert task_key({**TASK, "split": "test"}) == task_key(TASK)        # a moved split is not a new sample
    for k in range(2):
        path = tmp_path / "f" / f"p{k}.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * (69 + 9 * k))
        os.utime(path, ns=(10**18 + k, 10**18 + k))
    opts = BuildOptions(frames=tmp_path / "f", out=tmp_path / "o", count=2, size=(64, 36))
    assert _sources_key(tmp_path / "f", opts) == "fd48bd393e71bb27"


def test_demo_and_experiment_keys_keep_their_values(tmp_path):
    assert StepRunner(tmp_path, DemoOptions(out=Path("x")).key_options()).key == "a6f17d98878f1380"
    assert digest({"size": (960, 540), "path": Path("/a")}) == "f243e4c8fa901683"   # tuples as lists, paths as text
    # the training folder's digest of `uhr4k experiment` (OUT/runs/<row>@<preset>-<digest>)
    assert digest(TRAINING, 8) == "9bc00828"
    assert digest(TRAINING, 64) == hashlib.sha256(json.dumps(TRAINING, sort_keys=True).encode()).hexdigest()


def test_sample_seeds_and_their_draws_keep_their_values():
    assert sample_seed(3, "rain", "clip-000001") == 3514912712148007179
    s = sample_seed(3, "syn", "clip-000001")
    assert s == 5654261596733879816
    assert seeds.rng(s).integers(1000, size=3).tolist() == [706, 963, 618]
    assert np.random.default_rng(s).integers(1000, size=3).tolist() == [706, 963, 618]     # what build-syn drew
    assert seeds.derive_seed(3, "syn", "clip-000001") == int(seeds.shuffle_key(3, "syn", "clip-000001")[:16], 16) >> 1


def test_training_crops_and_shard_shuffles_keep_their_values():
    assert [draw_crop(7, e, i, (24, 16), True, 36, 64) for e, i in ((0, 0), (1, 5), (2**40, 3))] == [
        (11, 28, 24, 16, 3, True, True), (2, 27, 16, 24, 0, True, False), (6, 2, 16, 24, 0, True, False)]
    # ShardPairs: the shard order of (seed 7, epoch 1), the sample buffer of its stream 2
    assert seeds.rng(7, 1).permutation(6).tolist() == [3, 0, 2, 1, 4, 5]
    assert seeds.rng(7, 1, 2).integers(100, size=4).tolist() == [68, 92, 97, 72]
    # the demo's glass pair k of photo i (seed 1, i 2, k 1)
    assert seeds.rng(1, 2, 1).integers(1000, size=3).tolist() == [628, 921, 371]


def test_scene_splits_keep_their_values():
    chosen, messages = assign_scene_splits({f"s{i}": 1 + i % 3 for i in range(9)}, 3, 2, 5)
    assert messages == []
    assert chosen == {"s0": "val", "s1": "train", "s2": "train", "s3": "val", "s4": "test", "s5": "train",
                      "s6": "test", "s7": "train", "s8": "train"}
