"""Selecting frames from the survey layout or from a list of paths."""

import os

import pytest

from skyrms.io.discovery import (
    Selection,
    discover_by_key,
    frame_key,
    frames_by_key,
    read_path_list,
)

FRAMES = [
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/calib_7DT02_T00528_20251120_031512_m600_100.fits",
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/calib_7DT02_T00528_20251122_031512_m600_60.fits",
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT05/r/calib_7DT05_T00528_20251120_041512_r_100.fits",
    "7DT/7DT_C361K_HIGH_1x1/T01462/7DT02/m600/calib_7DT02_T01462_20251120_051512_m600_100.fits",
    "7DT/7DT_C361K_LOW_2x2/T01462/7DT05/r/calib_7DT05_T01462_20251120_051512_r_100.fits",
]
NOT_FRAMES = [
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/calib_7DT02_T00528_20251120_031512_m600_100.bkg.fits",
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/.calib_x.fits.abc.tmp",
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/notes.txt",
    "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/stray.fits",
]


@pytest.fixture
def tree(tmp_path):
    for relpath in FRAMES + NOT_FRAMES:
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return tmp_path


def found(tree, **inputs):
    keyed = discover_by_key(str(tree), Selection.from_patterns(inputs))
    return [os.path.relpath(p, tree) for p in keyed.values()]


def test_everything_in_the_layout_and_nothing_else(tree):
    assert found(tree) == sorted(FRAMES)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"object": "T00528"}, [0, 1, 2]),
        ({"object": "T01462", "filter": "m600"}, [3]),
        ({"unit": "7DT05"}, [2, 4]),
        ({"pattern": "*_100.fits"}, [0, 2, 3, 4]),
        ({"object": "T00528", "filter": "m600", "pattern": "*100.fits"}, [0]),
        ({"telkey": "*_2x2"}, [4]),
        ({"filter": ["m600", "r"], "unit": ["7DT02"]}, [0, 1, 3]),
        ({"object": "T99999"}, []),
    ],
)
def test_selection_by_layout_field_and_pattern(tree, inputs, expected):
    assert found(tree, **inputs) == sorted(FRAMES[i] for i in expected)


def test_keys_mirror_the_layout(tree):
    path = str(tree / FRAMES[0])
    assert frame_key(path, str(tree)) == FRAMES[0].removesuffix(".fits")


def test_path_outside_root_is_refused(tree, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "frame.fits"
    with pytest.raises(ValueError, match="not under the input root"):
        frame_key(str(outside), str(tree))


def test_two_files_for_one_key_are_refused(tree):
    with pytest.raises(ValueError, match="same products"):
        frames_by_key([str(tree / "a.fits"), str(tree / "a.fit")], str(tree))


def test_path_list_file(tree):
    listing = tree / "frames.txt"
    listing.write_text(f"# tonight\n{tree / FRAMES[0]}\n\n{tree / FRAMES[3]}  # galaxy\n")
    paths = read_path_list(str(listing))
    assert paths == [str(tree / FRAMES[0]), str(tree / FRAMES[3])]
    assert list(frames_by_key(paths, str(tree))) == [
        FRAMES[0].removesuffix(".fits"),
        FRAMES[3].removesuffix(".fits"),
    ]


def test_keys_of_the_search_are_those_of_the_paths(tree, monkeypatch):
    """The search makes keys from the names it reads; they equal frame_key's of the path,
    with a root given relative and not normalized too."""
    monkeypatch.chdir(tree.parent)
    root = os.path.join(".", tree.name, "7DT", "..")
    keyed = discover_by_key(root, Selection())
    assert list(keyed.values()) == sorted(keyed.values())
    assert keyed == frames_by_key(list(keyed.values()), root)
    assert list(keyed) == [frame.removesuffix(".fits") for frame in sorted(FRAMES)]


def test_hidden_folders_and_folders_named_like_frames_are_not_searched(tree):
    hidden = tree / "7DT/.snapshot/T00528/7DT02/m600/calib_x.fits"
    hidden.parent.mkdir(parents=True)
    hidden.write_bytes(b"")
    (tree / "7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/folder.fits").mkdir()
    assert found(tree) == sorted(FRAMES)
    assert found(tree, telkey=".snap*") == [str(hidden.relative_to(tree))]


def test_a_file_without_fits_ending_taken_by_the_pattern_is_named(tree):
    with pytest.raises(ValueError, match=r"m600/notes.txt: not a FITS file name"):
        discover_by_key(str(tree), Selection.from_patterns({"pattern": "*"}))
