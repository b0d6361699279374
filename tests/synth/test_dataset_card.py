"""build-syn writes the dataset card beside datasheet.md; a later run keeps what was declared before."""
import yaml
from click.testing import CliRunner

from uhr4k.card import read_card_meta
from uhr4k.cli import cli


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
