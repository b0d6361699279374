"""`uhr4k models`: tasks, default loss, recipe, exact parameter counts, MACs on request, counts cached per
source; docs/models.md generated from the registry."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.commands.model_facts import ModelFacts, build_on_meta
from uhr4k.commands.models import declared_facts, main, model_rows
from uhr4k.commands.models_page import COMMAND, render_page
from uhr4k.models.registry import list_models

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "models.md"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UHR4K_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "model_facts.json"


def test_lists_tasks_and_exact_parameters_without_macs(cache):
    res = CliRunner().invoke(cli, ["models", "glsgn", "prenet"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["model", "task(s)", "loss", "recipe", "converter", "parameters"]
    rows = {line.split()[0]: line for line in lines[1:3]}
    assert rows["prenet"].split()[1:5] == ["deraining", "neg_ssim", "prenet", "yes"]   # the authors' release loads
    assert rows["glsgn"].split()[4:6] == ["glsgn", "glsgn"]       # its default loss, its shipped recipe
    assert rows["glsgn"].split()[-3] == "-"                       # ours: nothing to convert
    assert rows["glsgn"].endswith("15.688 M")          # 15,687,925 parameters (docs/benchmarks.md, glsgn)
    assert rows["prenet"].endswith("0.169 M")          # 168,963
    assert "MACs @" not in res.output and "--macs" in lines[-1]


def test_meta_build_counts_what_a_real_build_counts():
    from uhr4k.benchmark.profiling import count_parameters
    from uhr4k.models import create_model
    for name in ("glsgn-pac", "mprnet-derain"):
        meta = build_on_meta(name)
        assert next(meta.parameters()).is_meta
        assert count_parameters(meta) == count_parameters(create_model(name))


def test_macs_on_request_match_count_macs_and_are_cached(cache):
    from uhr4k.benchmark.profiling import count_macs
    from uhr4k.models import create_model
    res = CliRunner().invoke(cli, ["models", "glsgn-global-*", "--size", "128x64"])
    assert res.exit_code == 0, res.output
    assert "MACs @ 128x64" in res.output.splitlines()[0]
    expected = count_macs(create_model("glsgn-global-only"), (1, 3, 64, 128))
    line = next(x for x in res.output.splitlines() if x.startswith("glsgn-global-only "))
    assert line.split()[-2] == f"{expected / 1e12:.3f}"
    stored = json.loads(cache.read_text())
    (fingerprint, entries), = stored.items()
    assert entries["glsgn-global-only|macs|128x64"] == expected
    # a cached value is used as is (nothing rebuilt): plant one and see it printed
    entries["glsgn-global-only|params"] = 1_234_000
    cache.write_text(json.dumps({fingerprint: entries}))
    rows = model_rows(["glsgn-global-only"], None)
    assert rows[0]["params"] == "1.234 M"
    # entries of another source tree are dropped, not trusted
    cache.write_text(json.dumps({"0" * 16: entries}))
    assert ModelFacts(shipped=False).entries == {}


def test_unknown_model_is_one_line(cache):
    res = CliRunner().invoke(cli, ["models", "nosuch*"])
    assert res.exit_code == 2 and res.output.startswith("error: unknown model 'nosuch*'")


def test_a_cached_listing_imports_no_torch(cache):
    import subprocess
    import sys

    warm = CliRunner().invoke(cli, ["models"])                 # fills the cache (this process has torch anyway)
    assert warm.exit_code == 0, warm.output
    probe = ("import sys; from click.testing import CliRunner; from uhr4k.cli import cli; "
             "r = CliRunner().invoke(cli, ['models']); assert r.exit_code == 0, r.output; "
             "print('torch' in sys.modules); print(r.output, end='')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    imported, listing = out.split("\n", 1)
    assert imported == "False" and listing == warm.output       # the same listing, without importing torch


def test_the_shipped_facts_are_this_trees():
    """The package's model_facts.json describes this very tree: the first listing after an install is
    answered from it (no counting, no torch import), so its numbers must be the ones a recount gives."""
    from uhr4k.benchmark.profiling import count_parameters
    from uhr4k.commands.model_facts import SHIPPED, _entries_of, source_fingerprint

    entries = _entries_of(SHIPPED, source_fingerprint())
    assert entries, f"{SHIPPED} is stale: run `python -m uhr4k.commands.models` after editing uhr4k/models"
    assert entries["registry"] == {n: declared_facts(n) for n in list_models()}
    assert entries["registry"]["prenet"] == {"tasks": ["deraining"], "converter": True, "default_loss": "neg_ssim",
                                             "recipe": "prenet"}
    for name in list_models():
        trainable, total = count_parameters(build_on_meta(name))
        assert entries[f"{name}|params"] == total and entries[f"{name}|trainable"] == trainable, name
        assert f"{name}|macs|3840x2160" in entries, name


def test_the_first_listing_after_an_install_counts_nothing(cache):
    import subprocess
    import sys

    assert not cache.exists()
    probe = ("import sys; from click.testing import CliRunner; from uhr4k.cli import cli; "
             "r = CliRunner().invoke(cli, ['models', '--macs']); assert r.exit_code == 0, r.output; "
             "print('torch' in sys.modules); print(r.output, end='')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    imported, listing = out.split("\n", 1)
    assert imported == "False" and "glsgn " in listing and "0.628 T" in listing


def test_the_models_page_is_generated_from_the_registry(cache):
    """docs/models.md is what the generator writes (a fact changes where the model registers, then
    `python -m uhr4k.commands.models --docs docs/models.md`), and says so at its top."""
    page = render_page()
    assert DOCS_PAGE.read_text() == page, f"docs/models.md is stale: run `{COMMAND}`"
    assert page.startswith("<!-- Generated: do not edit.") and COMMAND in page.splitlines()[0]
    rows = {line.split(" | ")[0].strip("| `"): line for line in page.splitlines() if line.startswith("| `")}
    assert set(rows) == set(list_models())
    # one row, every fact: paper and configuration, tasks, ours / published, loss, recipe, code, weights
    assert rows["restormer"] == (
        "| `restormer` | Restormer (Zamir et al., CVPR 2022): dim 48, blocks [4, 6, 6, 8], heads [1, 2, 4, 8], "
        "FFN x2.66, 4 refinement blocks | deraining, deblurring, reflection | 26,126,644 / 26.13 M | `l1` | "
        "`restormer` | [swz30/Restormer](https://github.com/swz30/Restormer) `basicsr/models/archs/restormer_arch.py` "
        "| load |")
    assert "45,494,504 (25,440,488 trainable) / 45.49 M" in rows["dmgn"]      # frozen parameters said
    assert "| none (classical: nothing to learn) |" in rows["dcp"]


def test_the_generator_writes_the_page(cache, tmp_path):
    out = tmp_path / "models.md"
    assert main(["--docs", str(out)]) == out and out.read_text() == render_page()


def test_facts_are_saved_atomically_and_an_unwritable_cache_is_ignored(tmp_path):
    facts = ModelFacts(tmp_path / "cache" / "model_facts.json", shipped=False)
    facts.get("k", lambda: 3)
    facts.save()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["model_facts.json"], "no temporary left"
    assert ModelFacts(tmp_path / "cache" / "model_facts.json", shipped=False).entries == {"k": 3}
    (tmp_path / "file").write_text("x")
    blocked = ModelFacts(tmp_path / "file" / "model_facts.json", shipped=False)   # a file where the folder goes
    blocked.get("k", lambda: 3)
    blocked.save()
    assert blocked.dirty, "not saved, and no error: the recount is the only cost"
