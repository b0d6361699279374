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
