"""Scene-disjoint splits, leak reports, `uhr4k split` and `uhr4k cache`."""
import hashlib

import numpy as np
from click.testing import CliRunner

from uhr4k import layout
from uhr4k.cli import cli
from uhr4k.data import find_pairs
from uhr4k.data.splits import find_leaks, plan_splits, split_dataset
from uhr4k.files import write_image


def _rows(scenes, frames, files_in=None):
    """Syn and Rain pairs of `scenes` videos x `frames` frames, all in train except test frame v00_f0
    (a scene leak), whose target also appears as train frame v01_f0 (a duplicate-image leak)."""
    rows = []
    for sub in ("syn", "rain"):
        for s in range(scenes):
            for f in range(frames):
                sid = f"v{s:02d}_f{f}"
                split = "test" if (s, f) == (0, 0) else "train"
                paths = layout.pair_paths(sub, split, sid)
                value = 0 if (s, f) == (1, 0) else (s * frames + f) % 256
                img = np.full((4, 4, 3), value, np.uint8)
                if files_in is not None:
                    for key in ("input", "target", "layer"):
                        write_image(files_in / paths[key], img)
                rows.append(layout.make_row(
                    id=sid, subset=layout.subset(sub).name, split=split, scene=f"video{s:02d}",
                    input=paths["input"], target=paths["target"], layer=paths["layer"],
                    sha256_target=hashlib.sha256(b"v00_f0" if (s, f) == (1, 0) else sid.encode()).hexdigest()))
    return rows


def _root(tmp_path, scenes=6, frames=3):
    root = tmp_path / "uhr4k"
    layout.write_manifest(root, _rows(scenes, frames, files_in=root))
    return root


def test_leaks_are_reported(tmp_path):
    rows = layout.read_manifest(_root(tmp_path))
    leaks = find_leaks(rows)
    assert any("scene 'video00' (syn/rain) is in splits test, train" in line for line in leaks)
    assert any("identical target image" in line and "UHR4K-Syn/test/v00_f0" in line and "UHR4K-Syn/train/v01_f0" in line
               for line in leaks)
    assert find_leaks([r for r in rows if r["split"] == "train"]) == []


def test_plan_is_scene_disjoint_shared_by_syn_and_rain_and_seeded(tmp_path):
    rows = _rows(scenes=40, frames=20)                                    # 800 pairs per subset
    plan = plan_splits(rows, seed=3)
    by_scene = {}
    for r in rows:
        by_scene.setdefault(r["scene"], set()).add(plan.assignment[(r["subset"], r["id"])])
    assert all(len(s) == 1 for s in by_scene.values())            # syn and rain agree, no scene split
    sizes = plan.sizes["UHR4K-Syn"]
    assert sizes == plan.sizes["UHR4K-Rain"]
    # paper fractions of 800: test 50/2187 -> 18, val 20/2187 -> 7; whole scenes of 20 frames, except
    # video00 + video01, which share a target and so move as one unit of 40: one unit per held-out split
    assert sum(sizes.values()) == 800
    for split, wanted in (("test", 18), ("val", 7)):
        assert wanted <= sizes[split] <= 40
        assert len({s for s, v in by_scene.items() if v == {split}} - {"video01"}) == 1
    assert plan_splits(rows, seed=3).assignment == plan.assignment
    assert plan_splits(rows, seed=4).assignment != plan.assignment


def test_apply_moves_files_and_rewrites_manifest(tmp_path):
    root = _root(tmp_path)
    res = CliRunner().invoke(cli, ["split", str(root)])
    assert res.exit_code == 0 and "leak: scene 'video00'" in res.output and "dry run" in res.output
    assert (root / "UHR4K-Syn/test/input/v00_f0.png").is_file()            # a dry run moves nothing
    summary = split_dataset(root, seed=1, apply=True)
    plan = summary.plan
    assert plan.assignment[("UHR4K-Syn", "v00_f0")] == plan.assignment[("UHR4K-Syn", "v01_f2")]   # merged scenes
    assert summary.applied and summary.leaks_after == []
    rows = layout.read_manifest(root)
    assert find_leaks(rows) == []
    for r in rows:
        assert r["split"] in r["input"] and (root / r["input"]).is_file() and (root / r["layer"]).is_file()
    test_ids = {p.id for p in find_pairs(root, subset="syn", split="test")}
    assert test_ids and test_ids == {p.id for p in find_pairs(root, subset="rain", split="test")}
    n_files = len(list(root.rglob("*.png")))
    assert n_files == 6 * 3 * 2 * 3
    again = split_dataset(root, seed=1, apply=True)                       # idempotent
    assert again.moved == 0


def test_cache_command(tmp_path):
    root = tmp_path / "set"
    for i in range(2):
        write_image(root / "input" / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
        write_image(root / "target" / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
    write_image(root / "reflection" / "0.png", np.zeros((8, 8, 3), np.uint8))     # a layer: never cropped
    res = CliRunner().invoke(cli, ["cache", str(root)])
    assert res.exit_code == 0 and "4 written, 0 up to date, 0 failed" in res.output
    assert not list((root / ".uhr4k-cache").rglob("reflection*"))
    (root / "input" / "1.png").write_bytes(b"broken")
    res = CliRunner().invoke(cli, ["cache", str(root)])
    assert res.exit_code == 1 and "1 failed" in res.output and "input/1.png" in res.output
