"""Bad input, collected in two tables: frames and masters, then configurations.

Every frame case is a file written into one real archive beside good frames,
and one ``snakemake --keep-going`` run processes them all. A bad frame fails
with a one-line error naming the file and the problem, in the rule that
meets the problem; nothing is left at that rule's product paths; the good
frames and the frames that are merely unusual (integer pixels, NaN rows,
data in an extension) finish with complete products; and no input changes.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms.demo import survey
from skyrms.io.tables import read_tsv
from skyrms.science import maskbits
from tests.helpers import input_digests, library_copy, snakemake

FRAMES, _ = survey.plan()
UNIT_DIR = Path("7DT", survey.TELKEY, "T01462", "7DT02")
BASE = next(f for f in FRAMES if f.object == "T01462" and f.unit == "7DT02" and f.filter == "m600")
MAB, PROP = "mask_and_background", "propagated_rms"
PRODUCTS = {MAB: (".mask.fits", ".bkg.fits", ".bkgrms.fits"), PROP: (".proprms.fits",)}


def base_frame(run):
    """Pixels (float32, ADU) and header of the good frame every bad one is made from."""
    with fits.open(run / "demo" / BASE.relpath) as hdul:
        return hdul[0].data.astype(np.float32), hdul[0].header.copy()


def write(path, data, header):
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data, header).writeto(path)


def truncated(path, data, header, calib):
    write(path, data, header)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def not_fits(path, data, header, calib):
    path.write_text("SIMPLE  = this is a text file that matches the pattern\n")


def data_in_extension(path, data, header, calib):
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header)]).writeto(path)


def integers(dtype):
    """Pixels rounded to ``dtype``; astropy writes uint16 as int16 with BZERO 32768."""

    def make(path, data, header, calib):
        limits = np.iinfo(dtype)
        write(path, np.clip(np.round(data), limits.min, limits.max).astype(dtype), header)

    return make


def big_endian_float64(path, data, header, calib):
    write(path, data.astype(">f8"), header)


def nan_and_inf(path, data, header, calib):
    data = data.copy()
    data[100:102, :] = np.nan  # two whole NaN rows
    data[300, 400], data[301, 500], data[302, 600] = np.nan, np.inf, -np.inf
    write(path, data, header)


def zero_border(path, data, header, calib):
    """A zero-filled border, as after resampling or trimming: 150 columns and 40 rows."""
    data[:, :150] = 0.0
    data[-40:, :] = 0.0
    write(path, data, header)


def mostly_blank(path, data, header, calib):
    """Pixels only in 4-column stripes 40 columns apart: no mesh box is a fifth valid."""
    blank = np.ones(data.shape[1], dtype=bool)
    for offset in range(4):
        blank[offset::40] = False
    data[:, blank] = 0.0
    write(path, data, header)


def galaxy_filling_the_frame(path, data, header, calib):
    """A bright spiral over the whole frame (the truth suite's, scaled to this frame's noise)."""
    from benchmarks.truthframes import SKY_SIGMA, spiral

    noise = 1.4826 * np.median(np.abs(data - np.median(data)))
    galaxy = spiral(data.shape, np.random.default_rng(3)) * (noise / SKY_SIGMA)
    write(path, (data + galaxy).astype(np.float32), header)


def negative_background(path, data, header, calib):
    write(path, data - 2 * np.median(data), header)


def all_nan(path, data, header, calib):
    write(path, np.full_like(data, np.nan), header)


def without_wcs(path, data, header, calib):
    for keyword in ("CTYPE1", "CTYPE2"):
        del header[keyword]
    write(path, data, header)


def edited(**changes):
    """The frame with these header cards set (None: removed)."""

    def make(path, data, header, calib):
        for keyword, value in changes.items():
            if value is None:
                del header[keyword]
            else:
                header[keyword] = value
        write(path, data, header)

    return make


def dated(date_obs):
    """The frame with this DATE-OBS (None: removed) and no MJD-OBS, which would take precedence."""
    return edited(**{"DATE-OBS": date_obs, "MJD-OBS": None})


def own_flat(filter_name, flat):
    """A frame in filter ``filter_name`` whose only flat in the library is ``flat(shape)``."""

    def make(path, data, header, calib):
        header["FILTER"] = filter_name
        write(path, data, header)
        source = next((calib / "7DT02" / "FLAT").glob("flat_7DT02_2025-11-19_m600.fits"))
        flat_header = fits.getheader(source)
        flat_header["FILTER"] = filter_name
        target = source.with_name(source.name.replace("m600", filter_name))
        fits.PrimaryHDU(flat(data.shape), flat_header).writeto(target)

    return make


def small_flat(shape):
    return np.ones((100, 100), np.float32)


def flat_with_zeros(shape):
    flat = np.ones(shape, np.float32)
    flat[10, 10], flat[20, 20:30] = 0.0, -0.5
    return flat


@dataclass
class Case:
    name: str
    make: object
    fails_in: str | None = None  # the rule that fails, None: the frame is processed
    message: str = ""  # what the one-line error (or warning) says after the file's path
    folder: str = "m600"


CASES = [
    # name                         the file                     fails in the message
    Case("truncated",              truncated,                   MAB,  "truncated"),
    Case("not_fits",               not_fits,                    MAB,  "not a readable FITS file"),
    Case("data_in_extension",      data_in_extension),
    Case("int16",                  integers(np.int16)),
    Case("uint16",                 integers(np.uint16)),
    Case("big_endian_float64",     big_endian_float64),
    Case("nan_and_inf",            nan_and_inf),
    Case("negative_background",    negative_background,         None, "background below zero"),
    Case("all_nan",                all_nan,                     MAB,  "no finite pixel"),
    Case("zero_border",            zero_border),
    Case("mostly_blank",           mostly_blank,                MAB,  "no usable background"),
    Case("galaxy_filling_frame",   galaxy_filling_the_frame,    None, "runaway guard"),
    Case("no_wcs_for_sky_circle",  without_wcs,                 MAB,  "needs a WCS"),
    Case("date_obs_missing",       dated(None),                 PROP, "no DATE-OBS or MJD-OBS"),
    Case("date_obs_malformed",     dated("2025-13-45"),         PROP, "malformed DATE-OBS"),
    Case("exptime_missing",        edited(EXPTIME=None),        PROP, "EXPTIME missing"),
    Case("exptime_malformed",      edited(EXPTIME="long"),      PROP, "EXPTIME malformed"),
    Case("filter_missing_use_folder", edited(FILTER=None)),
    Case("filter_unknown",         edited(FILTER="m999"),       PROP, "no master flat in m999"),
    Case("egain_missing",          edited(EGAIN=None),          PROP, "EGAIN missing"),
    Case("egain_malformed",        edited(EGAIN="high"),        PROP, "EGAIN malformed"),
    Case("no_master_within_7_days", dated("2024-06-01T03:00"),   PROP, "no master bias"),
    Case("master_of_other_shape",  own_flat("m700", small_flat), PROP, "100x100", "m700"),
    Case("flat_zero_or_negative",  own_flat("m800", flat_with_zeros), PROP, "11 pixels", "m800"),
]  # fmt: skip


def case_path(root, case):
    return root / UNIT_DIR / case.folder / f"bad_{case.name}.fits"


@pytest.fixture(scope="module")
def night(demo_run, tmp_path_factory):
    """Good frames of one tile and unit plus every bad case, run once with --keep-going."""
    base = tmp_path_factory.mktemp("bad_input")
    root, calib = base / "scidata", base / "calib"
    library_copy(demo_run, calib)
    good = [f for f in FRAMES if f.object == "T01462" and f.unit == "7DT02"]
    for frame in good:
        target = root / Path(frame.relpath).relative_to("scidata")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(demo_run / "demo" / frame.relpath, target)
    data, header = base_frame(demo_run)
    unit_calib = calib / "7DT" / survey.TELKEY
    for case in CASES:
        path = case_path(root, case)
        path.parent.mkdir(parents=True, exist_ok=True)
        case.make(path, data.copy(), header.copy(), unit_calib)
    config = {
        "demo": {"enabled": False},
        "masters": {"enabled": False},  # the library holds the demo's built masters
        "inputs": {"root": str(root)},
        "calibration": {"root": str(calib)},
    }
    before = input_digests(base, config)
    run = snakemake(base / "run", "--keep-going", config=config, check=False)
    return {
        "run": run,
        "config": config,
        "root": root,
        "results": base / "run" / "results",
        "good": [root / Path(f.relpath).relative_to("scidata") for f in good],
        "unchanged": before == input_digests(base, config),
    }


def key_of(night, frame):
    return frame.relative_to(night["root"]).as_posix()[: -len(".fits")]


def products(night, frame, rule):
    return [night["results"] / (key_of(night, frame) + suffix) for suffix in PRODUCTS[rule]]


def log_of(night, frame, rule):
    return night["results"] / "logs" / rule / f"{key_of(night, frame)}.log"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(night, case):
    path = case_path(night["root"], case)
    if case.fails_in is None:
        for rule in (MAB, PROP):
            for product in products(night, path, rule):
                assert product.exists(), product
        data = fits.getdata(products(night, path, PROP)[0])
        assert np.isfinite(data).all() and (data > 0).all()
        if case.message:
            warnings = (line for line in night["run"].stdout.splitlines() if "WARNING" in line)
            assert any(case.message in line and path.stem in line for line in warnings)
        return
    logged = log_of(night, path, case.fails_in).read_text().splitlines()
    errors = [line for line in logged if " ERROR: " in line]
    assert len(errors) == 1, logged
    named = path if case.folder == "m600" else "FLAT/flat_"  # a master's problem names it
    assert f"{named}" in errors[0] and case.message in errors[0], errors[0]
    assert errors[0].split(" ERROR: ")[1] in night["run"].stdout  # shown by snakemake too
    assert not any(p.exists() for p in products(night, path, PROP))
    if case.fails_in == MAB:
        assert not any(p.exists() for p in products(night, path, MAB))
    else:  # the image-based products do not need the calibration
        assert all(p.exists() for p in products(night, path, MAB))
    leftovers = [p for p in night["results"].rglob(".*") if p.is_file()]
    assert not leftovers, leftovers


def test_the_nights_summary_has_every_frame_and_each_failures_reason(night):
    """A run that fails frames (--keep-going) still writes its summary: a row per frame, the
    failed ones with the one line of their job's log; kept by night and in frames.latest."""
    rows = {row["frame"]: row for row in read_tsv(night["results"] / "summary.tsv")}
    frames = [*night["good"], *(case_path(night["root"], case) for case in CASES)]
    assert set(rows) == {key_of(night, frame) for frame in frames}
    for case in CASES:
        path = case_path(night["root"], case)
        row = rows[key_of(night, path)]
        if case.fails_in is None:
            assert row["status"] == "ok" and float(row["image_rms_median"]) > 0, case.name
            continue
        error = next(line for line in log_of(night, path, case.fails_in).read_text().splitlines()
                     if " ERROR: " in line)  # fmt: skip
        assert (row["status"], row["reason"]) == ("failed", error.split(" ERROR: ")[1]), case.name
    assert all(rows[key_of(night, frame)]["status"] == "ok" for frame in night["good"])
    nights = sorted((night["results"] / "nights").glob("*.tsv"))
    kept = [row for table in nights for row in read_tsv(table)]
    assert sorted(row["frame"] for row in kept) == sorted(rows)
    latest = read_tsv(night["results"] / "frames.latest.tsv")
    assert {row["frame"]: row for row in latest} == rows


def test_a_report_of_a_night_with_failures_shows_what_was_made(night, tmp_path):
    report = tmp_path / "report.html"
    made = snakemake(night["results"].parent, "--report", str(report), config=night["config"])
    assert made.returncode == 0 and report.stat().st_size > 0
    assert "summary.tsv" in made.stdout or report.exists()


def test_good_frames_finish_and_inputs_are_untouched(night):
    assert night["run"].returncode != 0
    for frame in night["good"]:
        for rule in (MAB, PROP):
            assert all(p.exists() for p in products(night, frame, rule)), frame
    assert night["unchanged"]


def test_nan_pixels_are_masked_as_invalid(night):
    path = case_path(night["root"], next(c for c in CASES if c.name == "nan_and_inf"))
    mask = fits.getdata(products(night, path, MAB)[0])
    assert np.all(mask[100:102] & maskbits.INVALID)
    assert mask[300, 400] & mask[301, 500] & mask[302, 600] & maskbits.INVALID
    assert np.isfinite(fits.getdata(products(night, path, MAB)[1])).all()


def test_a_zero_border_is_invalid_and_the_background_beside_it_is_sound(night):
    """The border carries the invalid bit, and the background next to it is the one
    the same frame without a border gets (within 0.3 of its noise)."""
    path = case_path(night["root"], next(c for c in CASES if c.name == "zero_border"))
    mask = fits.getdata(products(night, path, MAB)[0])
    assert np.all(mask[:, :150] & maskbits.INVALID) and np.all(mask[-40:] & maskbits.INVALID)
    base = night["root"] / Path(BASE.relpath).relative_to("scidata")
    reference = fits.getdata(products(night, base, MAB)[1])
    background = fits.getdata(products(night, path, MAB)[1])
    noise = np.median(fits.getdata(products(night, base, MAB)[2]))
    beside = (slice(0, -40), slice(150, 350))
    assert np.abs(background[beside] - reference[beside]).max() < 0.3 * noise


def test_integer_frames_give_the_float_frames_maps(night):
    base = night["root"] / Path(BASE.relpath).relative_to("scidata")
    reference = fits.getdata(products(night, base, MAB)[1])
    for name in ("int16", "uint16", "big_endian_float64", "data_in_extension"):
        path = case_path(night["root"], next(c for c in CASES if c.name == name))
        background = fits.getdata(products(night, path, MAB)[1])
        change = np.abs(background / reference - 1)
        # rounding (and int16 clipping bright stars at 32767) moves a few detections
        assert np.median(change) < 2e-3 and change.max() < 0.02, name


NO_MATCH = "no frame under demo/scidata matches the selection"
CONFIGURATIONS = [
    # what is wrong                                          what the one line says
    ({"background": {"box_size": -5}},                       "-5 is less than the minimum of 1"),
    ({"background": {"box_size": "big"}},                    "'big' is not of type 'integer'"),
    ({"source_mask": {"sigmaa": 3}},                         "not allowed ('sigmaa'"),
    ({"circular_masks": [{"ra": 10.0, "radius_arcsec": 3}]}, "circular_masks.0: {'ra': 10.0"),
    ({"inputs": {"object": "T99999"}},                       NO_MATCH),
    ({"inputs": {"pattern": "*_999.fits"}},                  NO_MATCH),
    ({"outputs": {"results": "blocked/results"}},            "outputs.results: cannot write to"),
    ({"inputs": {"root": "demo/scidatx"}},                   "inputs.root: demo/scidatx does not"),
    ({"inputs": {"root": "blocked"}},                        "inputs.root: blocked is not a"),
    ({"calibration": {"root": "demo/calibx"}},               "calibration.root: demo/calibx does"),
    ({"masters": {"raw_root": "demo/rawx"}},                 "masters.raw_root: demo/rawx does"),
    ({"background": {"bad_pixel_mask": "bpm.fits"}},         "bad_pixel_mask: bpm.fits does not"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "message"), CONFIGURATIONS)
def test_bad_configuration_stops_before_any_job(tmp_path, config, message):
    (tmp_path / "blocked").write_text("a file where the results folder should go\n")
    run = snakemake(tmp_path, "--dry-run", config=config, check=False)
    assert run.returncode != 0
    assert message in run.stdout
    if "blocked/results" in str(config):
        assert "blocked/results (Not a directory)" in run.stdout
    assert not list(tmp_path.rglob("*.mask.fits"))
    assert not (tmp_path / "results" / "7DT").exists()


def test_box_larger_than_the_frame_fails_each_frame_with_one_line(tmp_path):
    config = {"background": {"box_size": 4096}, "inputs": {"filter": "m600"}}
    run = snakemake(tmp_path, "--keep-going", config=config, check=False)
    assert run.returncode != 0
    failed = {line for line in run.stdout.splitlines() if " ERROR: " in line}
    assert len(failed) == len([f for f in FRAMES if f.filter == "m600"]), failed
    assert all("box_size 4096 px is larger than the frame (1024x683)" in line for line in failed)
    assert not list(tmp_path.rglob("*.mask.fits"))
