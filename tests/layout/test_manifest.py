import csv
import re

import pytest

from uhr4k import layout
from uhr4k.core.errors import InputError


def _row(i, sub="UHR4K-Syn", split="train"):
    p = layout.pair_paths(sub, split, i)
    return dict(id=i, subset=sub, split=split, scene="s", input=p["input"], target=p["target"],
                layer=p["layer"], width=8, height=4, seed=1, params={"b": 2, "a": 1})


def test_pair_paths_follow_contract():
    p = layout.pair_paths("syn", "test", "x01")
    assert p == {"input": "UHR4K-Syn/test/input/x01.png", "target": "UHR4K-Syn/test/target/x01.png",
                 "layer": "UHR4K-Syn/test/reflection/x01.png"}
    assert layout.pair_paths("UHR4K-Real", "val", "a")["layer"] == "UHR4K-Real/val/mask/a.png"
    with pytest.raises(ValueError):
        layout.pair_paths("syn", "training", "a")
    with pytest.raises(InputError):
        layout.subset("snow")


def test_manifest_round_trip_sorted_and_byte_stable(tmp_path):
    rows = [_row("b"), _row("a"), _row("c", sub="UHR4K-Rain")]
    layout.write_manifest(tmp_path, rows)
    first = (tmp_path / "manifest.csv").read_bytes()
    layout.write_manifest(tmp_path, list(reversed(rows)))
    assert (tmp_path / "manifest.csv").read_bytes() == first
    back = layout.read_manifest(tmp_path)
    assert [(r["subset"], r["id"]) for r in back] == [("UHR4K-Rain", "c"), ("UHR4K-Syn", "a"), ("UHR4K-Syn", "b")]
    assert back[1]["params"] == '{"a":1,"b":2}'  # JSON with sorted keys: stable bytes
    with open(tmp_path / "manifest.csv") as f:
        assert tuple(next(csv.reader(f))) == layout.MANIFEST_COLUMNS


def test_manifest_rejects_duplicates_and_unknown_columns(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        layout.format_manifest([_row("a"), _row("a")])
    with pytest.raises(ValueError, match="unknown manifest columns"):
        layout.make_row(**_row("a"), colour="red")
    with pytest.raises(ValueError, match="lacks 'target'"):
        layout.make_row(id="a", subset="UHR4K-Syn", split="train", input="x")


def test_update_manifest_replaces_one_subset(tmp_path):
    layout.write_manifest(tmp_path, [_row("a"), _row("r", sub="UHR4K-Rain")])
    layout.update_manifest(tmp_path, [_row("z")], subset_key="syn")
    assert [(r["subset"], r["id"]) for r in layout.read_manifest(tmp_path)] == [("UHR4K-Rain", "r"), ("UHR4K-Syn", "z")]


def test_not_a_manifest(tmp_path):
    (tmp_path / "manifest.csv").write_text("foo,bar\n1,2\n")
    with pytest.raises(InputError, match="not a uhr4k manifest"):
        layout.read_manifest(tmp_path)
    assert layout.read_manifest(tmp_path / "nowhere") == []


def _manifest_with(tmp_path, **change):
    row = layout.make_row(id="a", subset="UHR4K-Syn", split="train", input="UHR4K-Syn/train/input/a.png",
                          target="UHR4K-Syn/train/target/a.png")
    row.update(change)
    (tmp_path / "manifest.csv").write_text(layout.format_manifest([row]) if not change else
                                           ",".join(layout.MANIFEST_COLUMNS) + "\n"
                                           + ",".join(row[c] for c in layout.MANIFEST_COLUMNS) + "\n")


@pytest.mark.parametrize("change,message", [
    ({"input": "../victim.png"}, "line 2, column input: path '../victim.png' leads outside"),
    ({"target": "/etc/passwd"}, "line 2, column target: path '/etc/passwd' leads outside"),
    ({"split": "holdout"}, "line 2, column split: unknown split 'holdout'"),
    ({"subset": "Other"}, "line 2, column subset: unknown subset 'Other'"),
    ({"id": "../x"}, "line 2, column id"),
    ({"target": ""}, "line 2, column target: empty"),
    ({"width": "12px"}, "line 2, column width: '12px' is not a whole number"),
    ({"seed": "x"}, "line 2, column seed: 'x' is not a whole number"),
    ({"params": "{bad"}, "line 2, column params: not a JSON object"),
    ({"params": "[1]"}, "line 2, column params: not a JSON object"),
])
def test_a_broken_manifest_row_names_its_line_and_column(tmp_path, change, message):
    _manifest_with(tmp_path, **change)
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'manifest.csv'}: {message}")):
        layout.read_manifest(tmp_path)


def test_a_garbage_manifest_is_one_error_line_in_every_command(tmp_path):
    from click.testing import CliRunner

    from uhr4k.cli import cli

    (tmp_path / "manifest.csv").write_bytes(b"\xff\xfe\x00garbage\x00,\n\x89PNG")
    import numpy as np

    from uhr4k.core.images import write_image

    write_image(tmp_path / "frames" / "photo.png", np.random.default_rng(0).integers(0, 255, (60, 100, 3), np.uint8))
    runner = CliRunner()
    build = ["build-syn", "--frames", str(tmp_path / "frames"), "--out", str(tmp_path), "--size", "64x36", "--quiet"]
    for args in (["split", str(tmp_path)], ["bench", "--data", str(tmp_path), "--subset", "syn"], build):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith(f"error: {tmp_path / 'manifest.csv'}: not a uhr4k manifest"), result.output
