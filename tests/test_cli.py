import subprocess
import sys

from click.testing import CliRunner

from uhr4k.cli import COMMANDS, cli


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_python_dash_m_runs_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "uhr4k", "--help"], capture_output=True, text=True, check=True)
    assert "build-syn" in out.stdout and "Usage: uhr4k" in out.stdout


def test_every_command_module_exists_and_has_help():
    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "not available" not in result.output, f"command {name} is not implemented yet"


def test_size_options_share_one_parser_naming_the_option():
    import pytest

    from uhr4k.commands.options import parse_size
    from uhr4k.core.errors import InputError

    assert parse_size("3840x2160", "--size") == (3840, 2160)
    assert parse_size("none", "--crop", allow_none=True) is None
    with pytest.raises(InputError, match=r"^--crop: size must look like 3840x2160, got 'wide'$"):
        parse_size("wide", "--crop")
    for args in (["align", "raw", "--out", "o", "--size", "0x5"], ["models", "--size", "big"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and "--size" in result.output and "Traceback" not in result.output


def test_the_dataset_and_tool_commands_reach_the_library_through_the_app():
    """Each of these command modules parses options, calls uhr4k.app and prints: the only other uhr4k modules
    it imports are the commands' own helpers and the error it raises for a bad option."""
    import ast
    from pathlib import Path

    import uhr4k.commands

    allowed = ("uhr4k.app.", "uhr4k.commands.", "uhr4k.core.errors", "uhr4k.core.name_value")   # option syntax
    folder = Path(uhr4k.commands.__file__).parent
    for name in ("build_syn", "align", "merge", "pack", "card_options", "split", "cache", "demo", "export",
                 "attention"):
        tree = ast.parse((folder / f"{name}.py").read_text())
        imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
        imported += [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
        assert any(m.startswith("uhr4k.app.") for m in imported) or name == "card_options", name
        assert [m for m in imported if m.startswith("uhr4k") and not m.startswith(allowed)] == [], name
