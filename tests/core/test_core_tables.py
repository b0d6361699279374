"""uhr4k.core.tables and the figure markup of uhr4k.core.html: the one CSV writer and reader, the one
Markdown table and the one number format every report uses."""
import math
import subprocess
import sys

import numpy as np
import pytest

from uhr4k.core.html import figure_html
from uhr4k.core.tables import (
    columns_of,
    format_csv,
    format_number,
    markdown_table,
    open_csv,
    read_csv_rows,
    write_csv,
)


def test_csv_bytes_are_fixed(tmp_path):
    rows = [{"a": 1, "b": 'say "hi", twice', "extra": "ignored"}, {"a": 0.1 + 0.2, "b": "two\nlines"}, {"b": ""}]
    text = '''a,b\n1,"say ""hi"", twice"\n0.30000000000000004,"two\nlines"\n,\n'''
    assert format_csv(rows, ("a", "b")) == text
    write_csv(tmp_path / "t.csv", iter(rows), ("a", "b"))
    assert (tmp_path / "t.csv").read_bytes() == text.encode()
    assert read_csv_rows(tmp_path / "t.csv") == (["a", "b"], [{"a": "1", "b": 'say "hi", twice'},
                                                              {"a": "0.30000000000000004", "b": "two\nlines"},
                                                              {"a": "", "b": ""}])


def test_rows_that_grow_columns_get_every_column_first_seen_first():
    rows = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "val_psnr": 30.0, "loss": 0.25}]
    assert columns_of(rows) == ["epoch", "loss", "val_psnr"]
    assert format_csv(rows) == "epoch,loss,val_psnr\n1,0.5,\n2,0.25,30.0\n"
    assert format_csv([]) == "\n"


def test_open_csv_names_the_line_of_a_row(tmp_path):
    (tmp_path / "t.csv").write_text('a,b\n1,"x\ny"\n2,z\n')
    with open_csv(tmp_path / "t.csv") as reader:
        assert reader.fieldnames == ["a", "b"]
        assert [(row["a"], reader.line_num) for row in reader] == [("1", 3), ("2", 4)]


def test_writing_and_reading_csv_needs_no_pandas():
    # build-syn and align (and their worker processes) write and read CSV without pandas' import time
    code = "import sys, uhr4k.core.tables, uhr4k.core.records, uhr4k.layout; print('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_markdown_table():
    assert markdown_table(["model", "PSNR"], [["a", "30.00"], ["b", 1]]) == (
        "| model | PSNR |\n|---|---|\n| a | 30.00 |\n| b | 1 |")
    assert markdown_table(["x"], []) == "| x |\n|---|"


@pytest.mark.parametrize(("value", "options", "text"), [
    (30.1234, {"digits": 2}, "30.12"), (1, {"digits": 3}, "1.000"), ("0.5", {"digits": 1}, "0.5"),
    (np.float32(0.25), {"digits": 2}, "0.25"), (math.inf, {"digits": 2}, "inf"),
    (None, {"digits": 2}, "-"), ("", {"digits": 2}, "-"), (math.nan, {"digits": 2}, "-"),
    (None, {"digits": 3, "missing": "n/a"}, "n/a"), (math.nan, {"digits": 3, "missing": ""}, ""),
    (0.5, {"digits": 3, "signed": True}, "+0.500"), (-0.25, {"digits": 2, "signed": True}, "-0.25"),
    (math.inf, {"digits": 2, "signed": True}, "+inf"), (123456.0, {"digits": 4, "significant": True}, "1.235e+05"),
    (0.000123456, {"digits": 4, "significant": True}, "0.0001235"),
])
def test_format_number(value, options, text):
    assert format_number(value, **options) == text


def test_figure_markup():
    assert figure_html("plots/a b&c.png", 'in "x" <y>') == (
        '<figure><a href="plots/a b&amp;c.png"><img src="plots/a b&amp;c.png" alt="in &quot;x&quot; &lt;y&gt;">'
        '</a><figcaption>in &quot;x&quot; &lt;y&gt;</figcaption></figure>')
    assert figure_html("v.png", "m", cls="crop", href="full.png") == (
        '<figure class="crop"><a href="full.png"><img src="v.png" alt="m"></a><figcaption>m</figcaption></figure>')
    assert figure_html("p.png", "plot, d<1>", caption_html='plot (<a href="p.svg">SVG</a>)').endswith(
        'alt="plot, d&lt;1&gt;"></a><figcaption>plot (<a href="p.svg">SVG</a>)</figcaption></figure>')
