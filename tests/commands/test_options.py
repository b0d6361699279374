"""The options every command shares: sizes and shards, errors that name the option."""
import pytest
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.commands.options import parse_shard, parse_size
from uhr4k.core.errors import InputError


def test_parse_size():
    assert parse_size("3840x2160", "--size") == (3840, 2160)
    assert parse_size("64X36", "--size") == (64, 36)
    assert parse_size(None, "--crop", allow_none=True) is None
    for bad, reason in (("4k", "must look like 3840x2160, got '4k'"), ("0x5", "must be positive, got '0x5'"),
                        ("1x2x3", "must look like"), ("none", "must look like")):
        with pytest.raises(InputError, match=f"^--size: size {reason}"):
            parse_size(bad, "--size")


def test_parse_shard():
    assert parse_shard("1/1") == (1, 1)
    assert parse_shard("3/4") == (3, 4)
    with pytest.raises(InputError, match=r"^--shard must look like i/n or auto, got '2'$"):
        parse_shard("2")
    for bad in ("0/3", "4/3"):
        with pytest.raises(InputError, match=rf"^--shard {bad}: i must be between 1 and n$"):
            parse_shard(bad)


@pytest.mark.parametrize("option, value", [("--size", "4k"), ("--shard", "5/4")])
def test_build_syn_bad_option_is_one_line(tmp_path, option, value):
    (tmp_path / "frames").mkdir()
    result = CliRunner().invoke(cli, ["build-syn", "--frames", str(tmp_path / "frames"), "--out",
                                      str(tmp_path / "out"), option, value])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {option}") and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "out").exists()
