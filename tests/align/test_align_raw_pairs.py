import pytest

from uhr4k.align.raw_pairs import find_raw_pairs
from uhr4k.core.errors import InputError


def make(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded here")


def by_id(pairs):
    return {p.id: p for p in pairs}


def test_marked_names_in_scene_folders_with_sir2_and_errinet_marks(tmp_path):
    make(tmp_path, ["kitchen/01_glass.png", "kitchen/01_noglass.png", "kitchen/02-GLASS.tif", "kitchen/02-noglass.tif",
                    "hall/a_blended.jpg", "hall/a_transmission.jpg", "sir2/17/m.jpg", "sir2/17/g.jpg", "sir2/17/r.jpg",
                    "x_glass.png", "x_noglass.png"])
    pairs, convention = find_raw_pairs(tmp_path)
    assert convention == "side marked in file names"
    pairs = by_id(pairs)
    assert sorted(pairs) == ["hall-a", "kitchen-01", "kitchen-02", "sir2-17", "x"]
    assert all(p.problem is None for p in pairs.values())
    assert pairs["kitchen-02"].glass.name == "02-GLASS.tif" and pairs["kitchen-02"].scene == "kitchen"
    assert pairs["sir2-17"].glass.name == "m.jpg" and pairs["sir2-17"].noglass.name == "g.jpg"
    assert pairs["hall-a"].noglass.name == "a_transmission.jpg"


def test_parallel_folders_pair_by_stem_and_take_the_scene_from_the_name(tmp_path):
    make(tmp_path, ["glass/kitchen_01.png", "noglass/kitchen_01.PNG", "glass/kitchen_02.jpg", "noglass/kitchen_02.jpg",
                    "glass/park/3.png", "noglass/park/3.png"])
    pairs, convention = find_raw_pairs(tmp_path)
    assert convention == "parallel folders glass/ and noglass/"
    pairs = by_id(pairs)
    assert sorted(pairs) == ["kitchen-01", "kitchen-02", "park-3"]
    assert {p.scene for p in pairs.values()} == {"kitchen", "park"}


def test_pair_problems_are_reported_not_dropped(tmp_path):
    make(tmp_path, ["s/lone_glass.png", "s/twice_glass.png", "s/twice_glass.jpg", "s/twice_noglass.png",
                    "s/notes.png", "s/ok_glass.png", "s/ok_noglass.png"])
    pairs = by_id(find_raw_pairs(tmp_path)[0])
    assert "missing partner" in pairs["s-lone"].problem and pairs["s-lone"].noglass is None
    assert "2 through-glass files" in pairs["s-twice"].problem
    unmarked = [p for p in pairs.values() if p.problem and "marks no side" in p.problem]
    assert len(unmarked) == 1 and "notes.png" in unmarked[0].problem
    assert pairs["s-ok"].problem is None


def test_no_convention_is_one_clear_error(tmp_path):
    make(tmp_path, ["a.png", "b.png"])
    with pytest.raises(InputError, match="no input convention fits"):
        find_raw_pairs(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        find_raw_pairs(tmp_path / "missing")
