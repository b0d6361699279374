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
