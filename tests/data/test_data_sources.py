"""uhr4k.data.sources and presets: pairs in the public layouts and UHR4K roots, errors that name files."""
import os

import pytest

from uhr4k import layout
from uhr4k.core.errors import InputError
from uhr4k.core.images import write_image
from uhr4k.data import find_pairs, normalize_stem, read_pair

from data_material import image, pairs_folder


def test_public_samples(shared_data):
    rain = find_pairs(shared_data / "rain100h-sample")
    assert [p.id for p in rain] == [str(i) for i in range(1, 11)]           # natural order
    assert all(p.input.parent.name == "input" and p.target.parent.name == "target" for p in rain)
    refl = find_pairs(shared_data / "reflection-real-sample")
    assert len(refl) == 6 and refl[0].target.parent.name == "transmission"


def test_original_rain100_and_ohaze_naming(tmp_path):
    flat = tmp_path / "Rain100L"
    for i in (1, 2, 10):
        write_image(flat / f"rain-{i:03d}.png", image(8, 8, i))
        write_image(flat / f"norain-{i:03d}.png", image(8, 8, i))
    pairs = find_pairs(flat)
    assert [p.id for p in pairs] == ["001", "002", "010"]
    assert pairs[0].input.name == "rain-001.png" and pairs[0].target.name == "norain-001.png"
    oh = pairs_folder(tmp_path / "O-HAZE", [("01_outdoor_hazy.jpg", "01_outdoor_GT.jpg"),
                                              ("02_outdoor_hazy.jpg", "02_outdoor_GT.jpg")], "hazy", "GT")
    assert [p.id for p in find_pairs(oh)] == ["01_outdoor", "02_outdoor"]
    assert normalize_stem("norain-012") == "012" and normalize_stem("IMG_0001") == "img_0001"


def test_split_folder_and_presets(tmp_path, monkeypatch):
    pairs_folder(tmp_path / "Rain100H" / "test", [("1.png", "1.png")])
    monkeypatch.setenv("UHR4K_DATA", str(tmp_path))
    assert len(find_pairs("rain100h")) == 1
    assert len(find_pairs(f"rain100l={tmp_path / 'Rain100H'}")) == 1
    with pytest.raises(InputError, match="preset 'real20' not found"):
        find_pairs("real20")
    with pytest.raises(InputError, match="not a folder nor a preset"):
        find_pairs(tmp_path / "nowhere")


def test_unpaired_files_are_named(tmp_path):
    root = pairs_folder(tmp_path / "set", [("1.png", "1.png"), ("2.png", None), (None, "3.png")])
    with pytest.raises(InputError) as exc:
        find_pairs(root)
    msg = str(exc.value)
    assert "2 file(s) without a partner" in msg and "input/2.png" in msg and "target/3.png" in msg
    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "target").mkdir()
    with pytest.raises(InputError, match="no image pairs found"):
        find_pairs(tmp_path / "empty")
    (tmp_path / "odd" / "photos").mkdir(parents=True)
    with pytest.raises(InputError, match="unknown layout"):
        find_pairs(tmp_path / "odd")


def _uhr4k_root(root):
    rows = []
    for sub in ("syn", "rain"):
        for i, (split, scene) in enumerate([("test", "videoA"), ("test", "videoA"), ("train", "videoB")]):
            paths = layout.pair_paths(sub, split, f"{sub}{i}")
            target = image(20, 30, i)
            write_image(root / paths["input"], 255 - target)
            write_image(root / paths["target"], target)
            rows.append(layout.make_row(id=f"{sub}{i}", subset=layout.subset(sub).name, split=split, scene=scene,
                                        input=paths["input"], target=paths["target"]))
    layout.write_manifest(root, rows)
    return root


def test_uhr4k_root_with_manifest(tmp_path):
    root = _uhr4k_root(tmp_path / "uhr4k")
    pairs = find_pairs(root, subset="syn", split="test")
    assert [(p.id, p.scene) for p in pairs] == [("syn0", "videoA"), ("syn1", "videoA")]
    assert [p.id for p in find_pairs(root, subset="UHR4K-Rain", split="train")] == ["rain2"]
    with pytest.raises(InputError, match="holds subsets syn, rain: choose one"):
        find_pairs(root)
    os.remove(root / "UHR4K-Syn/test/target/syn1.png")
    with pytest.raises(InputError, match=r"syn1.png: listed in manifest.csv \(row .syn1., column target\) but missing"):
        find_pairs(root, subset="syn")


def test_size_mismatch_names_both_files(tmp_path):
    root = tmp_path / "set"
    write_image(root / "input" / "1.png", image(10, 12, 0))
    write_image(root / "target" / "1.png", image(10, 14, 0))
    pair = find_pairs(root)[0]
    with pytest.raises(InputError) as exc:
        read_pair(pair)
    assert str(exc.value).startswith(str(pair.input)) and str(pair.target) in str(exc.value)
    assert "12x10" in str(exc.value) and "14x10" in str(exc.value)
