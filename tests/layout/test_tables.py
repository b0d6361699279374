"""The DataFrame readers of uhr4k.layout.tables: typed columns, parsed params, clear errors."""
import json

import pandas as pd
import pytest

from uhr4k import layout
from uhr4k.core.errors import InputError
from uhr4k.layout import tables


def _row(i: int, **over) -> dict:
    row = dict(id=f"s{i:03d}", subset="UHR4K-Syn", split="train", scene=f"v{i % 2}", source="v.mp4",
               input=f"UHR4K-Syn/train/input/s{i:03d}.png", target=f"UHR4K-Syn/train/target/s{i:03d}.png",
               layer="", width="3840", height="2160", seed=str(7 + i),
               params=json.dumps({"alpha": 0.25 * i, "kernel": [3, 5]}), sha256_input="ab", sha256_target="cd",
               sha256_layer="")
    row.update(over)
    return row


def test_manifest_types_and_params(tmp_path):
    layout.write_manifest(tmp_path, [_row(1), _row(2, split="test")])
    frame = tables.manifest(tmp_path)
    assert list(frame.columns) == list(layout.MANIFEST_COLUMNS)
    assert str(frame["width"].dtype) == "Int64" and frame["width"].tolist() == [3840, 3840]
    assert frame["seed"].tolist() == [8, 9]
    assert frame.loc[frame["id"] == "s002", "params"].item() == {"alpha": 0.5, "kernel": [3, 5]}
    assert frame.groupby("split").size().to_dict() == {"test": 1, "train": 1}


def test_manifest_of_an_empty_root_has_the_contract_columns(tmp_path):
    frame = tables.manifest(tmp_path)
    assert frame.empty and list(frame.columns) == list(layout.MANIFEST_COLUMNS)


def test_manifest_bad_params_names_the_row(tmp_path):
    layout.write_manifest(tmp_path, [_row(1, params="{not json")])
    with pytest.raises(InputError, match=r"manifest.csv: line 2, column params: not a JSON object"):
        tables.manifest(tmp_path)


def test_read_csv_table_types(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,loss,val_psnr,note\n1,0.5,21.25,a\n2,0.25,,b\n10,1e-3,23,\n")
    frame = tables.training_log(tmp_path)
    assert str(frame["epoch"].dtype) == "Int64" and frame["epoch"].tolist() == [1, 2, 10]
    assert frame["loss"].dtype == "float64" and frame["loss"].tolist() == [0.5, 0.25, 0.001]
    assert frame["val_psnr"].dtype == "float64" and pd.isna(frame["val_psnr"][1])
    assert frame["note"].tolist()[:2] == ["a", "b"] and pd.isna(frame["note"][2])


def test_failures_empty_and_present(tmp_path):
    assert tables.failures(tmp_path).empty
    (tmp_path / "failures.csv").write_text("stage,id,file,reason\nselect,,v.mp4,truncated video\n")
    frame = tables.failures(tmp_path)
    assert frame.loc[0, "reason"] == "truncated video" and pd.isna(frame.loc[0, "id"])


def test_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="alignment.csv: no such file"):
        tables.alignment(tmp_path)
    (tmp_path / "log.csv").write_text("loss\n1\n")
    with pytest.raises(InputError, match=r"log.csv: missing column\(s\) epoch"):
        tables.training_log(tmp_path)
