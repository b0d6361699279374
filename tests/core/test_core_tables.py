"""uhr4k.core.tables: the one CSV writer and reader."""
import subprocess
import sys

from uhr4k.core.tables import (
    columns_of,
    format_csv,
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
