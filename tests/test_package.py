"""Package metadata: one version, the declared license shipped."""
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import uhr4k

ROOT = Path(__file__).resolve().parents[1]


def test_version_lives_in_one_place():
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*(\.dev\d+)?", uhr4k.__version__)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "uhr4k.__version__"}
    assert not (ROOT / "setup.cfg").exists(), "one build configuration: pyproject.toml"
    from importlib import metadata

    assert metadata.version("uhr4k") == uhr4k.__version__
    assert f"## [{uhr4k.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_license_file_matches_the_declared_license():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_code_cites_only_documents_in_the_repository():
    outside = ("DESIGN" + ".md", "REFERENCE" + ".md")        # notes that never shipped with the code
    one_machine = "cannot be downloaded " + "here"            # true of one machine, not of the project
    cited = set()
    for path in [*ROOT.glob("uhr4k/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")]:
        text = path.read_text()
        assert not any(name in text for name in outside), path
        assert one_machine not in text, path
        cited |= set(re.findall(r"docs/[\w./-]+\.md", text))
    assert cited, "the code cites docs/"
    for doc in cited:
        assert (ROOT / doc).is_file(), doc


def test_pre_commit_runs_the_checks_of_the_readme_test_command():
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    readme = (ROOT / "README.md").read_text()
    marker = readme.index("<!-- .ci/run runs the bash block below")
    test_command = readme[marker:].split("```bash\n", 1)[1].split("\n```", 1)[0]
    assert [h["id"] for h in hooks] == ["ruff", "lint-imports", "mypy"]
    for hook in hooks:
        assert f"&& {hook['entry']} " in test_command or test_command.endswith(hook["entry"]), hook


def test_torch_is_pinned_in_one_place():
    pins = [path for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / ".ci" / "run",
                              ROOT / "pyproject.toml", *ROOT.glob("docs/**/*.md")]
            if "torch==" in path.read_text()]
    assert pins == [], pins
    assert "torch==" in (ROOT / "constraints.txt").read_text()
