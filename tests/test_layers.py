"""The package's shape, checked: no import cycle between uhr4k's modules, not even through an import
inside a function, and the layer contract of docs/design.md (pyproject.toml, ``lint-imports``) holds and
catches an upward import."""
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_cycles(graph) -> list[list[str]]:
    """Every import ``a -> b`` for which ``b`` leads back to ``a``, as the loop ``[a, b, ..., a]``, sorted."""
    loops = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                loops.append([importer, *back])
    return loops


def test_cycle_finder_finds_a_planted_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert module_cycles(graph) == [["p.a", "p.b", "p.c", "p.a"], ["p.b", "p.c", "p.a", "p.b"],
                                    ["p.c", "p.a", "p.b", "p.c"]]


def test_no_module_cycle_even_through_function_level_imports():
    graph = grimp.build_graph("uhr4k")       # grimp reads every import statement, inside functions too
    assert "uhr4k.models.factory" in graph.modules
    assert module_cycles(graph) == []   # a loop reads importer -> ... -> importer


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PATH": str(lint.parent), "PYTHONPATH": str(pythonpath), "HOME": str(cwd)}
    return subprocess.run([str(lint), "--config", "pyproject.toml", "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layer_contract_holds():
    result = _lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.slow
def test_the_layer_contract_refuses_an_upward_import(tmp_path):
    """A copy of the tree where the base layer imports the models: the same contract must fail, naming it."""
    shutil.copytree(ROOT / "uhr4k", tmp_path / "uhr4k", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    atomic = tmp_path / "uhr4k" / "core" / "atomic.py"
    atomic.write_text(atomic.read_text() + "\nfrom uhr4k.models import factory  # noqa: E402,F401\n")
    result = _lint_imports(tmp_path, tmp_path)
    assert result.returncode != 0
    assert "uhr4k.core is not allowed to import uhr4k.models" in result.stdout
    assert "uhr4k.core.atomic -> uhr4k.models.factory" in result.stdout


def test_the_dataset_pipelines_load_no_torch_or_pandas():
    """build-syn's and align's worker processes import these modules: torch and pandas would cost every
    worker seconds and hundreds of MB (docs/design.md, "Which way imports go")."""
    modules = ["uhr4k.data", "uhr4k.synth.pipeline", "uhr4k.align.pipeline", "uhr4k.data.pack", "uhr4k.synth.merge",
               "uhr4k.layout", "uhr4k.core.images", "uhr4k.core.jobs", "uhr4k.cli"]
    probe = ("import sys; import " + ", ".join(modules) +
             "; print(sorted(m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_help_loads_neither_torch_nor_numpy():
    """`uhr4k --help` imports every command's module (to list them): each keeps its heavy imports inside the
    command, so the listing answers in a fraction of a second."""
    probe = ("import sys; from click.testing import CliRunner; from uhr4k.cli import cli; "
             "result = CliRunner().invoke(cli, ['--help']); assert result.exit_code == 0, result.output; "
             "print(sorted(m for m in ('torch', 'numpy', 'cv2', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
