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
        "error: --source-license must be NAME=LICENSE, got 'frames'"


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


def _files(root) -> dict[str, bytes]:
    """Every file under ``root``, private state included, but the lock (its holder's pid and start time)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "lock"}


def test_python_and_the_command_line_leave_the_same_tree_the_card_naming_the_call(media, tmp_path, monkeypatch):
    """uhr4k.build_syn and `uhr4k build-syn` with the same options: the same bytes, card included, but for the
    command the card records: the Python call, every setting with its default, which pastes back into Python
    and rebuilds nothing; given the command line's own command, not one byte differs."""
    import shutil

    import uhr4k

    monkeypatch.chdir(tmp_path)
    frames, refl = str(media / "frames"), str(media / "reflections")
    res = CliRunner().invoke(cli, ["build-syn", "--frames", frames, "--reflections", refl, "--out", "root", "--count",
                                   "4", "--size", "64x36", "--test", "1", "--val", "1", "--subsets", "syn", "--quiet",
                                   "--license", "cc-by-4.0", "--source-license", "frames=CC0-1.0"])
    assert res.exit_code == 0, res.output
    by_cli, cli_line = _files(tmp_path / "root"), read_card_meta("root")["uhr4k"]["command"]
    shutil.rmtree("root")

    options = dict(reflections=refl, count=4, size=(64, 36), test=1, val=1, subsets=("syn",), license="cc-by-4.0")
    summary = uhr4k.build_syn(frames, "root", sources={"frames": "CC0-1.0"}, **options)
    assert summary.ok and summary.made == 4
    call = read_card_meta("root")["uhr4k"]["command"]
    assert call == (f"uhr4k.build_syn(frames={frames!r}, out='root', reflections={refl!r}, count=4, size=(64, 36), "
                    "test=1, val=1, seed=0, workers=1, shard=(1, 1), subsets=('syn',), reflection_model='zhang', "
                    "license='cc-by-4.0', sources=[{'name': 'frames', 'license': 'CC0-1.0'}])")
    by_python = _files(tmp_path / "root")
    assert sorted(by_python) == sorted(by_cli) and "README.md" in by_python
    assert {k: v for k, v in by_python.items() if k != "README.md"} == \
        {k: v for k, v in by_cli.items() if k != "README.md"}
    assert by_python["README.md"] == by_cli["README.md"].replace(cli_line.encode(), call.encode())
    # the recorded call is Python that redoes the build: every sample verified and kept, not one byte changed
    again = eval(call, {"uhr4k": uhr4k})
    assert again.reused == 4 and again.made == 0 and _files(tmp_path / "root") == by_python
    shutil.rmtree("root")

    uhr4k.build_syn(frames, "root", sources=[{"name": "frames", "license": "CC0-1.0"}], command=cli_line, **options)
    assert _files(tmp_path / "root") == by_cli


def test_merge_and_pack_from_python_write_the_cards_the_commands_write(media, tmp_path, monkeypatch):
    """The shards' Python calls, then the merge's and the pack's (named as imported from uhr4k.app.pipelines):
    every command once, in order, and the shards' licence carried to the merged root and its packed copy."""
    import uhr4k
    from uhr4k.app.pipelines import merge_shards, pack

    monkeypatch.chdir(tmp_path)
    options = dict(reflections=media / "reflections", count=4, size=(64, 36), test=1, val=1, subsets=("syn",))
    for i in (1, 2):
        uhr4k.build_syn(media / "frames", f"s{i}", shard=(i, 2), license="cc0-1.0", **options)
    summary = merge_shards(["s1", "s2"], "m")
    assert summary.rows == 4
    commands = read_card_meta("m")["uhr4k"]["commands"]
    assert len(commands) == 3 and all(c.startswith("uhr4k.build_syn(") for c in commands[:2])
    assert "shard=(1, 2)" in commands[0] and "shard=(2, 2)" in commands[1]
    assert commands[2] == "uhr4k.app.pipelines.merge_shards(shards=['s1', 's2'], out='m')"
    assert read_card_meta("m")["license"] == "cc0-1.0"
    pack("m", "packed", splits=("test",))
    meta = read_card_meta("packed")
    assert meta["license"] == "cc0-1.0" and meta["uhr4k"]["commands"][:3] == commands
    assert meta["uhr4k"]["command"] == ("uhr4k.app.pipelines.pack(root='m', out='packed', fmt='webdataset', "
                                        "splits=('test',), shard_bytes=1000000000)")


def test_a_readme_uhr4k_did_not_write_keeps_the_run_report_then_fails(media, tmp_path):
    """build-syn into a root holding the user's own README.md: the dataset is built and reported as usual
    (the summary and the next command), then the refusal, one line, exit status 2; their file untouched."""
    from click.testing import CliRunner

    from uhr4k.cli import cli

    root = tmp_path / "root"
    root.mkdir()
    (root / "README.md").write_text("my lab's notes\n")
    res = CliRunner().invoke(cli, ["build-syn", "--frames", str(media / "frames"), "--out", str(root), "--count", "4",
                                   "--size", "64x36", "--test", "1", "--val", "1", "--subsets", "syn", "--quiet"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and "not a dataset card uhr4k wrote" in lines[-1]
    assert any("next:" in line for line in lines[:-1]), res.output        # the report came first
    assert "Traceback" not in res.output
    assert (root / "README.md").read_text() == "my lab's notes\n"
    assert (root / "manifest.csv").is_file()
