"""Grouping raw calibration frames into the masters to build (skyrms.plan.master_groups)."""

from skyrms.plan import master_groups
from skyrms.plan.master_lookup import LibraryMaster

ROOT, CALIB = "raw", "calib"
UNIT = "raw/7DT/7DT_C361K_HIGH_1x1/7DT02"


def fields(date, imagetyp=None, **cards):
    return {"DATE-OBS": date, **({"IMAGETYP": imagetyp} if imagetyp else {}), **cards}


FRAMES = {
    f"{UNIT}/BIAS/b1.fits": fields("2025-11-20T10:00:00"),
    f"{UNIT}/BIAS/b2.fits": fields("2025-11-20T23:59:00"),
    f"{UNIT}/BIAS/b3.fits": fields("2025-11-21T11:59:00"),  # before noon: the same night
    f"{UNIT}/BIAS/b4.fits": fields("2025-11-21T12:01:00"),  # after noon: the next night
    f"{UNIT}/DARK/d1.fits": fields("2025-11-20T10:00:00", EXPTIME=100.0),
    f"{UNIT}/DARK/d2.fits": fields("2025-11-20T10:05:00", EXPTIME=60.0),
    f"{UNIT}/DARK/d3.fits": fields("2025-11-20T10:10:00", EXPTIME=100.0),
    f"{UNIT}/FLAT/f1.fits": fields("2025-11-20T22:00:00", FILTER="r", EXPTIME=3.0),
    f"{UNIT}/FLAT/f2.fits": fields("2025-11-20T22:01:00", FILTER="m600", EXPTIME=5.0),
    f"{UNIT}/FLAT/x.fits": fields("2025-11-20T22:02:00", "LIGHT"),
    f"{UNIT}/BIAS/bad.fits": {"error": "raw/.../bad.fits: truncated"},
}


def test_frames_are_grouped_by_type_unit_night_exposure_and_filter():
    groups, problems = master_groups.plan(ROOT, CALIB, FRAMES, night_starts=12)
    members = {relpath.split("/", 3)[3]: [p.rsplit("/", 1)[1] for p in g.raws]
               for relpath, g in groups.items()}  # fmt: skip
    assert members == {
        "BIAS/bias_7DT02_2025-11-19": ["b1.fits"],
        "BIAS/bias_7DT02_2025-11-20": ["b2.fits", "b3.fits"],
        "BIAS/bias_7DT02_2025-11-21": ["b4.fits"],
        "DARK/dark_7DT02_2025-11-19_100s": ["d1.fits", "d3.fits"],
        "DARK/dark_7DT02_2025-11-19_60s": ["d2.fits"],
        "FLAT/flat_7DT02_2025-11-20_m600": ["f2.fits"],
        "FLAT/flat_7DT02_2025-11-20_r": ["f1.fits"],
    }
    assert sorted(problems) == [
        "raw/.../bad.fits: truncated",
        f"{UNIT}/FLAT/x.fits: IMAGETYP 'LIGHT' is not one of BIAS, DARK, FLAT",
    ]
    dark = groups["7DT/7DT_C361K_HIGH_1x1/7DT02/DARK/dark_7DT02_2025-11-19_100s"].master
    assert dark.path == f"{CALIB}/7DT/7DT_C361K_HIGH_1x1/7DT02/DARK/dark_7DT02_2025-11-19_100s.fits"
    assert (dark.unit, dark.exptime, dark.ncombine) == ("7DT02", 100.0, 2)
    assert abs(dark.mjd - 60999.42014) < 1e-4  # the mean time of the two darks


def test_the_night_boundary_is_configurable():
    groups, _ = master_groups.plan(ROOT, CALIB, FRAMES, night_starts=0)
    assert "7DT/7DT_C361K_HIGH_1x1/7DT02/BIAS/bias_7DT02_2025-11-20" in groups
    assert len([g for g in groups if "/BIAS/" in g]) == 2  # 20th: b1, b2; 21st: b3, b4


def test_a_planned_master_replaces_its_built_file_in_the_library():
    groups, _ = master_groups.plan(ROOT, CALIB, FRAMES, night_starts=12)
    planned = groups["7DT/7DT_C361K_HIGH_1x1/7DT02/BIAS/bias_7DT02_2025-11-20"].master
    unit = ("7DT", "7DT_C361K_HIGH_1x1", "7DT02")
    built = LibraryMaster(planned.path, "BIAS", *unit, 0.0, None, None, 9)
    other = LibraryMaster("calib/other.fits", "BIAS", *unit, 1.0, None, None, 5)
    library = master_groups.add_to_library({(*unit, "BIAS"): [built, other]}, groups)
    biases = library[(*unit, "BIAS")]
    assert other in biases and built not in biases and planned in biases


def test_the_content_digest_follows_the_frames_and_the_combination():
    groups, _ = master_groups.plan(ROOT, CALIB, FRAMES, night_starts=12)
    group = groups["7DT/7DT_C361K_HIGH_1x1/7DT02/BIAS/bias_7DT02_2025-11-20"]
    digest = {path: path[-7:] for path in FRAMES}.get
    same = master_groups.content_digest(group, digest, "median")
    assert same == master_groups.content_digest(group, digest, "median")
    assert same != master_groups.content_digest(group, digest, "mean")
    assert same != master_groups.content_digest(group, lambda p: "other", "median")
