"""build-syn writes the dataset card beside datasheet.md; a later run keeps what was declared before."""
import yaml
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.layout.card import read_card_meta


def test_build_syn_writes_a_card_with_licences_ranges_and_command(media, tmp_path):
    out = tmp_path / "root"
    args = ["build-syn", "--frames", str(media / "frames"), "--out", str(out), "--count", "4", "--size", "64x36",
            "--quiet", "--subsets", "syn", "--test", "1", "--val", "1"]
    res = CliRunner().invoke(cli, [*args, "--license", "cc-by-4.0", "--source-license", "frames=CC0-1.0",
                                   "--source-license", "reflections=DIV2K (research only)"])
    assert res.exit_code in (0, 1), res.output
    text = (out / "README.md").read_text()
    assert (out / "datasheet.md").is_file()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "cc-by-4.0" and "reflection-removal" in meta["tags"]
    u = meta["uhr4k"]
    assert u["sources"] == [{"name": "frames", "license": "CC0-1.0"},
                            {"name": "reflections", "license": "DIV2K (research only)"}]
    assert u["command"].startswith("uhr4k build-syn --frames ") and "--size 64x36" in u["command"]
    assert "--count 4" in u["command"] and "--seed 0" in u["command"]      # defaults too: the settings used
    assert sum(u["splits"]["UHR4K-Syn"].values()) == 4 and u["image_sizes"] == {"64x36": 4}
    ranges = u["parameters"]["UHR4K-Syn"]
    assert ranges and all(lo <= hi for lo, hi in ranges.values())
    # a rerun without --license keeps the declared licence and sources, and records both commands once
    res = CliRunner().invoke(cli, args)
    again = read_card_meta(out)
    assert again["license"] == "cc-by-4.0" and again["uhr4k"]["sources"] == u["sources"]
    assert len(again["uhr4k"]["commands"]) == 2 and again["uhr4k"]["commands"][0] == u["command"]
    res = CliRunner().invoke(cli, [*args, "--source-license", "frames"])
    assert res.exit_code == 2 and res.output.strip() == \
        "error: --source-license: expected NAME=LICENSE, got 'frames'"


def test_merge_writes_the_card_of_the_merged_root(media, tmp_path):
    base = ["build-syn", "--frames", str(media / "frames"), "--count", "4", "--size", "64x36", "--quiet",
            "--subsets", "syn", "--test", "1", "--val", "1", "--license", "cc0-1.0"]
    for i in (1, 2):
        res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / f"s{i}"), "--shard", f"{i}/2"])
        assert res.exit_code in (0, 1), res.output
    res = CliRunner().invoke(cli, ["merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    meta = read_card_meta(tmp_path / "m")
    assert meta["license"] == "cc0-1.0" and sum(meta["uhr4k"]["splits"]["UHR4K-Syn"].values()) == 4
    commands = meta["uhr4k"]["commands"]
    assert [c.split()[1] for c in commands] == ["build-syn", "build-syn", "merge"]
    assert "--shard 1/2" in commands[0] and "--shard 2/2" in commands[1]


def test_a_readme_uhr4k_did_not_write_is_never_replaced(tmp_path):
    """A user's own README.md in the root (any encoding) stays byte for byte; writing the card is refused
    with one line naming it."""
    import pytest

    from uhr4k.core.errors import InputError
    from uhr4k.layout.card import write_card

    rows = [{"id": "a", "subset": "UHR4K-Syn", "split": "train", "width": "64", "height": "36", "params": "{}"}]
    theirs = "Notes for my lab: caf\xe9\n".encode("latin-1")
    (tmp_path / "README.md").write_bytes(theirs)
    assert read_card_meta(tmp_path) == {}                          # not UTF-8: not ours, no traceback
    with pytest.raises(InputError, match="not a dataset card uhr4k wrote") as caught:
        write_card(tmp_path, rows, command="uhr4k build-syn")
    assert "README.md" in str(caught.value)
    assert (tmp_path / "README.md").read_bytes() == theirs
    (tmp_path / "README.md").unlink()
    write_card(tmp_path, rows, command="uhr4k build-syn")          # ours is rewritten on the next run
    write_card(tmp_path, rows, command="uhr4k build-syn")
    assert "uhr4k" in read_card_meta(tmp_path)
