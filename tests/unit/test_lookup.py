"""Master-frame lookup: keys, the max_days edge, ties, errors, and the header index."""

import hashlib
import os
from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from skyrms.io.headerindex import HeaderIndex
from skyrms.plan.master_lookup import (
    TYPES,
    LibraryMaster,
    MasterChoice,
    NoMasterError,
    Observation,
    build_library,
    choose,
    choose_for_frames,
    common_failures,
    library_paths,
)
from skyrms.settings import max_days_by_type

UNIT = ("7DT", "7DT_C361K_HIGH_1x1", "7DT02")
NIGHT = 60999.2  # MJD of the frame
FRAME = Observation("frame.fits", *UNIT, mjd=NIGHT, exptime=100.0, filter="m600")
DAYS = max_days_by_type(7)


def master(imagetyp, days, exptime=None, filt=None, unit=UNIT, name=None):
    path = name or f"{imagetyp}_{days:+.3f}_{exptime}_{filt}_{unit[2]}.fits"
    return LibraryMaster(path, imagetyp, *unit, NIGHT + days, exptime, filt, 9)


def library(*masters):
    groups = {}
    for m in masters:
        groups.setdefault((m.observatory, m.telkey, m.unit, m.imagetyp), []).append(m)
    return groups


BASE = [
    master("BIAS", 0.3),
    master("DARK", 0.35, exptime=100.0),
    master("FLAT", -0.8, filt="m600"),
]


def test_nearest_of_each_type_with_matching_keys():
    other_unit = (*UNIT[:2], "7DT05")
    groups = library(
        *BASE,
        master("BIAS", -2.0),
        master("BIAS", 0.1, unit=other_unit),  # nearer, but another unit
        master("DARK", 0.05, exptime=60.0),  # nearer, wrong exposure time
        master("DARK", 3.0, exptime=100.0),
        master("FLAT", 0.01, filt="r"),  # nearer, wrong filter
        master("FLAT", -5.0, filt="m600"),
    )
    chosen = choose(FRAME, groups, DAYS)
    assert [chosen[t].master for t in ("BIAS", "DARK", "FLAT")] == BASE
    assert chosen["FLAT"].days == pytest.approx(-0.8)


@pytest.mark.parametrize(("days", "found"), [(6.999, True), (7.0, True), (7.001, False)])
def test_max_days_edge(days, found):
    groups = library(master("BIAS", -days), *BASE[1:])
    if found:
        assert choose(FRAME, groups, DAYS)["BIAS"].days == pytest.approx(-days)
    else:
        with pytest.raises(NoMasterError, match=r"no master bias .* within 7 days; nearest is"):
            choose(FRAME, groups, DAYS)


def test_max_days_per_type():
    groups = library(BASE[0], BASE[1], master("FLAT", -20.0, filt="m600"))
    with pytest.raises(NoMasterError, match="flat in m600"):
        choose(FRAME, groups, DAYS)
    days = max_days_by_type({"bias": 1, "dark": 1, "flat": 30})
    assert choose(FRAME, groups, days)["FLAT"].days == pytest.approx(-20.0)


def test_ties_break_to_the_earlier_master_then_the_path():
    before, after = master("BIAS", -0.5), master("BIAS", 0.5)
    twin_a, twin_b = (master("BIAS", -0.5, name=n) for n in ("b/bias.fits", "a/bias.fits"))
    for order in ([after, before], [before, after]):
        assert choose(FRAME, library(*order, *BASE[1:]), DAYS)["BIAS"].master == before
    for order in ([twin_a, twin_b], [twin_b, twin_a]):
        chosen = choose(FRAME, library(*order, *BASE[1:]), DAYS)["BIAS"].master
        assert chosen.path == "a/bias.fits"


def test_dark_of_the_nearest_exposure_time_when_allowed():
    groups = library(BASE[0], BASE[2], master("DARK", 0.1, 60.0), master("DARK", 2.0, 300.0))
    with pytest.raises(NoMasterError, match="no master dark of 100 s"):
        choose(FRAME, groups, DAYS)
    assert choose(FRAME, groups, DAYS, "nearest")["DARK"].master.exptime == 60.0
    exact = master("DARK", 5.0, 100.0)
    groups[(*UNIT, "DARK")].append(exact)
    assert choose(FRAME, groups, DAYS, "nearest")["DARK"].master == exact


def test_error_when_the_library_has_none_of_a_type():
    with pytest.raises(NoMasterError, match=r"frame.fits: no master flat in m600 .* at all"):
        choose(FRAME, library(*BASE[:2]), DAYS)


def test_a_type_missing_altogether_names_the_folders_searched_and_is_said_once():
    searched = ("calib", "results/masters")
    folders = " or ".join(f"{root}/7DT/7DT_C361K_HIGH_1x1/7DT02/FLAT" for root in searched)
    with pytest.raises(NoMasterError, match=f"\\(no flat in m600 in {folders} at all\\)$"):
        choose(FRAME, library(*BASE[:2]), DAYS, searched=searched)
    frames = {f"{'/'.join(UNIT[:2])}/T00528/7DT02/m600/{n}": f"{n}.fits" for n in "abc"}
    fields = dict.fromkeys(frames.values(), {"DATE-OBS": "2025-11-20T04:48:00", "EXPTIME": 100.0,
                                           "FILTER": "m600", "TELESCOP": "7DT02"})  # fmt: skip
    choices = choose_for_frames(
        frames, fields, library(*BASE[:2]), DAYS, "exact", lambda path: "0" * 64, searched,
    )  # fmt: skip
    assert all(choice.reason.endswith(f"{folders} at all)") for choice in choices.values())
    [(reason, count)] = common_failures(choices).items()
    assert count == 3 and reason.startswith("no master flat in m600 for")


def test_frames_with_bad_headers_fail_alone():
    keys = {name: f"7DT/7DT_C361K_HIGH_1x1/T00001/7DT02/m600/{name}" for name in "ab"}
    frames = {keys[name]: f"{name}.fits" for name in "ab"}
    fields = {
        "a.fits": {"DATE-OBS": "2025-11-20T03:00:00", "EXPTIME": 100.0, "FILTER": "m600"},
        "b.fits": {"DATE-OBS": "20/11/25", "EXPTIME": 100.0, "FILTER": "m600"},
    }
    night = Time("2025-11-20T03:00:00").mjd
    groups = library(*(replace(m, mjd=night + 0.1) for m in BASE))
    chosen = choose_for_frames(frames, fields, groups, DAYS, "exact", lambda path: f"sha:{path}")
    choice = chosen[keys["a"]]
    assert choice.reason is None
    assert [choice.masters[t]["path"] for t in TYPES] == [m.path for m in BASE]
    assert [choice.masters[t]["sha256"] for t in TYPES] == [f"sha:{m.path}" for m in BASE]
    assert chosen[keys["b"]] == MasterChoice(reason="b.fits: malformed DATE-OBS '20/11/25'")


def test_a_choice_is_a_plain_tuple_as_a_snakemake_parameter():
    """Snakemake compares the repr of plain parameters only: the choice's must stay the
    (masters, reason) tuple earlier runs recorded, or every frame would rerun."""
    chosen = MasterChoice(masters={"BIAS": {"path": "bias.fits", "sha256": "ab"}})
    failed = MasterChoice(reason="f.fits: no master bias")
    assert repr(chosen.as_param()) == "({'BIAS': {'path': 'bias.fits', 'sha256': 'ab'}}, None)"
    assert repr(failed.as_param()) == "(None, 'f.fits: no master bias')"
    assert [MasterChoice.from_param(c.as_param()) for c in (chosen, failed)] == [chosen, failed]


def write_master(root, unit, imagetyp, name, **cards):
    path = root / "7DT" / "7DT_C361K_HIGH_1x1" / unit / imagetyp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.zeros((4, 4), np.float32), fits.Header(list(cards.items()))).writeto(path)
    return path


def test_index_reads_only_new_or_changed_files(tmp_path, monkeypatch):
    root = tmp_path / "calib"
    write_master(
        root, "7DT02", "BIAS", "b1.fits", IMAGETYP="BIAS", **{"DATE-OBS": "2025-11-20T10:00:00"}
    )
    write_master(
        root,
        "7DT02",
        "DARK",
        "d1.fits",
        IMAGETYP="DARK",
        EXPTIME=100.0,
        **{"DATE-OBS": "2025-11-20T10:20:00"},
    )
    (root / "7DT" / "7DT_C361K_HIGH_1x1" / "7DT02" / "FLAT").mkdir()
    (root / "7DT" / "7DT_C361K_HIGH_1x1" / "7DT02" / "FLAT" / "junk.fits").write_text("junk")
    cache = tmp_path / "index.json"
    paths = library_paths(str(root))
    index = HeaderIndex(cache)
    assert index.refresh(paths) == 3
    fields = {path: index.fields(path) for path in paths}
    index.save(paths)
    groups, problems = build_library(str(root), fields)
    assert sorted(groups) == [(*UNIT, "BIAS"), (*UNIT, "DARK")]
    assert len(problems) == 1 and "junk.fits: not a readable FITS file" in problems[0]

    reads = []
    import skyrms.io.headerindex as module

    real = module.examine
    monkeypatch.setattr(module, "examine", lambda p: reads.append(p) or real(p))
    again = HeaderIndex(cache)
    assert again.refresh(paths) == 0 and reads == []
    assert {path: again.fields(path) for path in paths} == fields
    new = write_master(
        root, "7DT02", "BIAS", "b2.fits", IMAGETYP="BIAS", **{"DATE-OBS": "2025-11-21T10:00:00"}
    )
    os.utime(paths[0], ns=(0, 0))  # touched: its stamp changes
    assert again.refresh(library_paths(str(root))) == 2
    assert sorted(reads) == sorted([paths[0], str(new)])
    assert again.digest(str(new)) == hashlib.sha256(new.read_bytes()).hexdigest()
