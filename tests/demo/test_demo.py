"""The demo end to end at a tiny size: every referenced file exists, images are valid, numbers match."""
import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from page_parser import parse_page
from PIL import Image

from uhr4k.cli import cli


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--size", "256x144", "--train-minutes", "0.1"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_report_references_only_existing_valid_files(demo_out):
    parser = parse_page(demo_out / "report.html")
    assert len(parser.images) >= 6  # contact sheet, QA images, plots, comparison grids
    for src in parser.images:
        assert not Path(src).is_absolute() and not src.startswith(".."), src  # zip-and-share safe
        with Image.open(demo_out / src) as img:
            img.verify()
    for href in parser.links:
        assert (demo_out / href).exists(), href


@pytest.mark.slow
def test_report_tables_equal_their_csv_files(demo_out):
    parser = parse_page(demo_out / "report.html")
    sources = [t["source"] for t in parser.tables]
    assert {"bench/rain/summary.csv", "bench/reflection/summary.csv", "bench/dehazing/summary.csv",
            "align_accuracy.csv", "dataset/alignment.csv"} <= set(sources)
    for table in parser.tables:
        with open(demo_out / table["source"], newline="") as f:
            records = list(csv.DictReader(f))
        header, body = table["rows"][0], table["rows"][1:]
        assert len(body) == len(records)
        for cells, record in zip(body, records, strict=True):
            assert cells == [record[c] for c in header]


@pytest.mark.slow
def test_demo_results_are_sane(demo_out):
    with open(demo_out / "bench" / "rain" / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["model"] for r in rows} == {"identity", "glsgn-small"} and all(int(r["n"]) > 0 for r in rows)
    with open(demo_out / "bench" / "reflection" / "summary.csv", newline="") as f:
        assert len([r for r in csv.DictReader(f) if int(r["n"]) > 0]) == 2  # UHR4K-Syn and UHR4K-Real
    with open(demo_out / "align_accuracy.csv", newline="") as f:
        accuracy = list(csv.DictReader(f))
    errors = [float(r["corner_error_px"]) for r in accuracy if r["status"] == "ok"]
    assert errors and max(errors) < 1.0  # the aligner recovers the simulated glass shift
    with open(demo_out / "bench" / "dehazing" / "summary.csv", newline="") as f:
        haze = {r["model"]: float(r["psnr"]) for r in csv.DictReader(f)}
    assert haze["dcp"] > haze["identity"]


@pytest.mark.slow
def test_rerun_reuses_finished_steps(demo_out):
    record = json.loads((demo_out / ".demo" / "train.json").read_text())
    result = CliRunner().invoke(cli, ["demo", "--out", str(demo_out), "--size", "256x144", "--train-minutes", "0.1"])
    assert result.exit_code == 0, result.output
    for step in ("material", "build-syn", "align", "train", "bench"):
        assert f"[{step}] reused" in result.output
    assert json.loads((demo_out / ".demo" / "train.json").read_text()) == record


def test_bad_size_is_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path), "--size", "big"])
    assert result.exit_code == 2 and "--size" in result.output and "Traceback" not in result.output
