"""The embedded demo survey: plan, files, headers, WCS, determinism and the truth it promises."""

import csv
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from skyrms.demo import calibration, instrument, physics, survey
from skyrms.science.combine import variance_factor
from tests.helpers import REPO

SHAPE = survey.DEFAULT_SHAPE
SMALL = (120, 180)
FRAMES, MASTERS = survey.plan()
SHORT = [f for f in FRAMES if f.exptime == 30.0]  # calibrated with a 60 s dark scaled by 0.5


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The demo written once at the default shape."""
    path = tmp_path_factory.mktemp("demo")
    survey.write(path)
    return path


def files_under(path):
    return sorted(p.relative_to(path).as_posix() for p in Path(path).rglob("*") if p.is_file())


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def stamp_mask(table, shape):
    """True where any star of ``table`` was rendered (its square stamp)."""
    mask = np.zeros(shape, dtype=bool)
    for star in table:
        i, j, h = int(np.rint(star["x"])), int(np.rint(star["y"])), int(star["halfsize"])
        mask[max(j - h, 0) : j + h + 1, max(i - h, 0) : i + h + 1] = True
    return mask


def galaxy_distance_arcsec(frame, shape):
    """Distance (arcsec) of every pixel from the GALAXY centre, from the frame's WCS."""
    x0, y0 = survey.frame_wcs(frame, shape).wcs_world2pix(
        survey.GALAXY["ra"], survey.GALAXY["dec"], 0
    )
    y, x = np.indices(shape)
    return np.hypot(x - x0, y - y0) * survey.PIXEL_SCALE


# --- plan -----------------------------------------------------------------------------------------


def test_plan_frames_cover_every_combination_on_two_nights():
    assert len(FRAMES) == 18
    regular = FRAMES[:16]
    combos = {(f.object, f.unit, f.filter) for f in regular}
    assert combos == {(o, u, b) for o in survey.TILES for u in survey.UNITS for b in survey.FILTERS}
    for combo in combos:
        nights = sorted(f.date_obs[:10] for f in regular if (f.object, f.unit, f.filter) == combo)
        assert nights == ["2025-11-20", "2025-11-22"]
    assert [f.index for f in FRAMES] == list(range(18))
    assert FRAMES[16:] == SHORT
    assert [(f.object, f.unit, f.filter, f.date_obs[:10], f.ncombine) for f in SHORT] == [
        ("T00528", unit, "m600", "2025-11-22", 1) for unit in survey.UNITS
    ]
    for f in SHORT:
        before = [
            g
            for g in regular
            if (g.unit, g.object, g.date_obs[:10]) == (f.unit, f.object, f.date_obs[:10])
        ]
        assert f.date_obs > max(g.date_obs for g in before)
    assert {f.object for f in FRAMES if f.crowded} == {"T00528"}
    assert {f.object for f in FRAMES} == {"T00528", survey.GALAXY["object"]}


def test_plan_frame_names_times_and_exptimes():
    pattern = re.compile(
        r"scidata/7DT/7DT_C361K_HIGH_1x1/(T\d{5})/(7DT\d\d)/(\w+)/"
        r"calib_\2_\1_(\d{8})_(\d{6})_\3_(\d+)\.fits"
    )
    for f in FRAMES:
        match = pattern.fullmatch(f.relpath)
        assert match, f.relpath
        assert (match[1], match[2], match[3]) == (f.object, f.unit, f.filter)
        assert match[4] + match[5] == re.sub(r"\D", "", f.date_obs)
        assert float(match[6]) == f.exptime
        assert (f.observatory, f.telkey) == ("7DT", "7DT_C361K_HIGH_1x1")
        assert 2 <= int(f.date_obs[11:13]) < 6
    assert len({f.date_obs for f in FRAMES}) == 18
    long = [f for f in FRAMES if f.relpath.endswith("_100.fits")]
    assert 0 < len(long) < len(FRAMES)
    assert [f for f in FRAMES if f.relpath.endswith("_30.fits")] == SHORT
    assert {f.exptime for f in FRAMES} == {30.0, 60.0, 100.0}
    assert {f.ncombine for f in FRAMES} == {None, 1, 3}


def test_plan_is_pure_and_seed_changes_only_times():
    assert survey.plan() == survey.plan(7)
    other, masters = survey.plan(8)
    assert masters == MASTERS
    assert [f.date_obs for f in other] != [f.date_obs for f in FRAMES]
    strip = ("relpath", "date_obs")
    fields = [{k: v for k, v in vars(f).items() if k not in strip} for f in other]
    assert fields == [{k: v for k, v in vars(f).items() if k not in strip} for f in FRAMES]


def test_plan_masters_per_unit():
    assert len(MASTERS) == 22
    for unit in survey.UNITS:
        mine = [m for m in MASTERS if m.unit == unit]
        assert sorted(m.date_obs[:10] for m in mine if m.imagetyp == "BIAS") == [
            "2025-10-21",
            "2025-11-20",
            "2025-11-22",
        ]
        darks = {(m.date_obs[:10], m.exptime) for m in mine if m.imagetyp == "DARK"}
        assert darks == {(d, t) for d in survey.NIGHTS for t in (60.0, 100.0)}
        flats = {(m.date_obs[:10], m.filter) for m in mine if m.imagetyp == "FLAT"}
        assert flats == {(d, b) for d in ("2025-10-10", survey.FLAT_DATE) for b in survey.FILTERS}
    names = {Path(m.relpath).name for m in MASTERS}
    # built: named by their night (from 12 UTC), as the workflow names them; hand-made: by date
    assert {"bias_7DT02_2025-11-19.fits", "dark_7DT02_2025-11-19_100s.fits"} <= names
    assert {"flat_7DT02_2025-11-19_m600.fits", "bias_7DT05_20251122.fits"} <= names
    for m in MASTERS:
        assert (
            m.relpath
            == f"calib/7DT/7DT_C361K_HIGH_1x1/{m.unit}/{m.imagetyp}/" + Path(m.relpath).name
        )
        assert (m.exptime is not None) == (m.imagetyp == "DARK")
        assert (m.filter is not None) == (m.imagetyp == "FLAT")
        assert bool(m.raws) == (m.date_obs[:7] == "2025-11" and m.relpath != HAND_MADE_BIAS)
        assert len(m.raws) in ({"BIAS": 15, "DARK": 5, "FLAT": 5}[m.imagetyp], 0)
        for raw in m.raws:
            assert raw.relpath.startswith(f"raw/7DT/7DT_C361K_HIGH_1x1/{m.unit}/{m.imagetyp}/")
            assert raw.date_obs[:13] == m.date_obs[:13]


HAND_MADE_BIAS = "calib/7DT/7DT_C361K_HIGH_1x1/7DT05/BIAS/bias_7DT05_20251122.fits"
"""The one hand-made master science frames are calibrated with (no NCOMBINE, no error maps)."""


def test_the_demo_builds_its_masters_as_config_yaml_does():
    settings = yaml.safe_load((REPO / "config.yaml").read_text())
    masters, demo = settings["masters"], settings["demo"]
    assert masters["enabled"] and demo["raw_frames"]
    assert masters["raw_root"] == f"{demo['root']}/raw"
    assert settings["calibration"]["root"] == f"{demo['root']}/calib"
    combine = calibration.MASTER_COMBINE
    assert (masters["method"], masters["sigma"]) == (combine.method, combine.sigma)
    assert (masters["nlow"], masters["nhigh"]) == (combine.nlow, combine.nhigh)
    assert settings["inputs"]["night_starts"] == calibration.NIGHT_STARTS
    assert masters["min_frames"] <= min(calibration.RAW_FRAMES.values())


def test_frame_masters_match_unit_night_exptime_and_filter():
    for f in FRAMES:
        bias, dark, flat = survey.frame_masters(f)
        assert {bias.unit, dark.unit, flat.unit} == {f.unit}
        assert bias.date_obs[:10] == dark.date_obs[:10] == f.date_obs[:10]
        assert dark.exptime == (60.0 if f in SHORT else f.exptime)
        assert (flat.filter, flat.date_obs[:10]) == (f.filter, survey.FLAT_DATE)
    used = {m.relpath for f in FRAMES for m in survey.frame_masters(f)}
    assert [m.relpath for m in MASTERS if m.relpath in used and not m.raws] == [HAND_MADE_BIAS]
    for m in MASTERS:  # what the built darks and flats are corrected with
        chosen = {t: (c.unit, c.date_obs[:10], c.exptime) for t, c in
                  calibration.prerequisites(m, MASTERS).items()} if m.raws else {}  # fmt: skip
        if m.imagetyp == "DARK":
            assert chosen == {"BIAS": (m.unit, m.date_obs[:10], None)}
        elif m.raws and m.imagetyp == "FLAT":
            first = survey.NIGHTS[0]
            assert chosen == {"BIAS": (m.unit, first, None), "DARK": (m.unit, first, 60.0)}
    assert 30.0 not in {m.exptime for m in MASTERS}  # the short frames have no dark of their own


# --- files ----------------------------------------------------------------------------------------


def test_output_relpaths_are_exactly_the_written_files(root):
    expected = survey.output_relpaths()
    assert expected == sorted(expected)
    assert files_under(root) == expected
    assert {"truth/frames.tsv", "truth/masters.tsv", "demo.json"} <= set(expected)
    raws = sum(len(m.raws) for m in MASTERS)
    hand_made = sum(not m.raws for m in MASTERS)
    assert (raws, hand_made) == (105, 7)
    assert len(expected) == 18 + 18 + raws + hand_made + 3
    stamp = json.loads((root / "demo.json").read_text())
    assert stamp == {"shape": list(SHAPE), "seed": 7, "raw_frames": True,
                     "version": survey.DEMO_VERSION}  # fmt: skip
    ready_made = survey.output_relpaths(raw_frames=False)
    assert set(ready_made) - set(expected) == {m.relpath for m in MASTERS if m.raws}


def test_small_write_is_byte_for_byte_deterministic(tmp_path):
    survey.write(tmp_path / "a", SMALL)
    survey.write(tmp_path / "b", SMALL, seed=7)
    names = files_under(tmp_path / "a")
    assert names == files_under(tmp_path / "b") == survey.output_relpaths()
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_science_headers(root):
    for f in FRAMES:
        data, header = fits.getdata(root / f.relpath, header=True)
        assert data.dtype == np.dtype(">f4") and data.shape == SHAPE
        expected = {
            "IMAGETYP": "LIGHT",
            "OBJECT": f.object,
            "TELESCOP": f.unit,
            "INSTRUME": "C361K",
            "OBSERVAT": "7DT",
            "FILTER": f.filter,
            "EXPTIME": f.exptime,
            "DATE-OBS": f.date_obs,
            "EGAIN": 0.2561,
            "GAIN": 2750,
            "XBINNING": 1,
            "YBINNING": 1,
            "SATURATE": 60000.0,
        }
        assert {k: header[k] for k in expected} == expected
        assert header.get("NCOMBINE") == f.ncombine
        assert ("NCOMBINE" in header) == (f.ncombine is not None)
        assert header["MJD-OBS"] == pytest.approx(Time(f.date_obs, scale="utc").mjd, abs=1e-7)


def test_science_wcs(root):
    for f in FRAMES:
        header = fits.getheader(root / f.relpath)
        wcs = WCS(header)
        assert proj_plane_pixel_scales(wcs) * 3600 == pytest.approx([0.505, 0.505], rel=1e-9)
        assert header["CD1_1"] < 0 < header["CD2_2"]
        assert (header["CRPIX1"], header["CRPIX2"]) == ((SHAPE[1] + 1) / 2, (SHAPE[0] + 1) / 2)
        ra, dec = survey.TILES[f.object]
        dither = np.hypot((header["CRVAL1"] - ra) * np.cos(np.radians(dec)), header["CRVAL2"] - dec)
        assert 0 < dither * 3600 < 15
        if f.object == survey.GALAXY["object"]:
            x, y = wcs.wcs_world2pix(survey.GALAXY["ra"], survey.GALAXY["dec"], 0)
            radius = survey.GALAXY["radius_arcsec"] / 0.505
            edge = min(x, y, SHAPE[1] - 1 - x, SHAPE[0] - 1 - y)
            assert edge > 2 * radius


def test_hand_made_master_headers_and_pixels(root):
    for m in (m for m in MASTERS if not m.raws):
        data, header = fits.getdata(root / m.relpath, header=True)
        assert data.dtype == np.dtype(">f4") and data.shape == SHAPE
        assert header["IMAGETYP"] == m.imagetyp
        assert header["DATE-OBS"] == m.date_obs
        assert (header["TELESCOP"], header["INSTRUME"], header["EGAIN"]) == (
            m.unit,
            "C361K",
            0.2561,
        )
        assert header.get("FILTER") == m.filter
        assert header.get("NCOMBINE") == m.ncombine
        with fits.open(root / m.relpath) as hdul:
            assert [h.name for h in hdul] == (
                ["PRIMARY", "ERR"] if m.imagetyp == "FLAT" else ["PRIMARY"]
            )
        assert_within_its_errors(m, data)
        if m.imagetyp == "FLAT":
            err, err_header = fits.getdata(root / m.relpath, "ERR", header=True)
            assert "BUNIT" not in err_header  # dimensionless, like the flat
            np.testing.assert_allclose(err, calibration.true_master(m, SHAPE)[1], rtol=1e-6)


def assert_within_its_errors(master, data, bias=None):
    """The pixels of ``master`` differ from its truth as its true errors say: rms of the
    residual over rms of the error within 1.5%, mean pull within 0.1 (a flat's normalisation
    is one common factor). A dark's residual includes the error of ``bias``, subtracted from it.
    """
    level, error = calibration.true_master(master, SHAPE)
    if bias is not None:
        error = np.hypot(error, calibration.true_master(bias, SHAPE)[1])
    residual = data.astype(float) - level
    assert np.sqrt(np.mean(residual**2) / np.mean(error**2)) == pytest.approx(1, abs=0.015)
    assert abs(np.mean(residual / error)) < 0.1


def test_raw_frames_are_the_cameras(root):
    """Raw frames: 16-bit, as the camera writes them, headers a master job groups them by."""
    for m in (m for m in MASTERS if m.raws):
        raw = m.raws[0]
        with fits.open(root / raw.relpath) as hdul:
            header = hdul[0].header
            assert (header["BITPIX"], header["BZERO"]) == (16, 32768)
            data = hdul[0].data
        assert data.dtype == np.uint16 and data.shape == SHAPE
        assert (header["IMAGETYP"], header["DATE-OBS"], header["TELESCOP"]) == (
            m.imagetyp, raw.date_obs, m.unit,
        )  # fmt: skip
        assert header.get("FILTER") == m.filter
        exptime = {"BIAS": 0.0, "DARK": m.exptime, "FLAT": calibration.FLAT_EXPTIME}
        assert header["EXPTIME"] == exptime[m.imagetyp]
        cam = instrument.camera(m.unit, SHAPE)
        if m.imagetyp == "FLAT":
            flat = instrument.true_flat(m.unit, m.filter, SHAPE)
            level = calibration.FLAT_COUNTS * flat / instrument.EGAIN + cam.bias
            assert np.median(data / level) == pytest.approx(1, abs=0.001)
            assert data.max() < 0.9 * instrument.SATURATE
        else:
            assert np.median(data - cam.bias) == pytest.approx(0, abs=1)


@pytest.fixture(scope="module")
def ready_made(tmp_path_factory):
    """The demo written with its built masters ready-made (no raw frames kept)."""
    path = tmp_path_factory.mktemp("ready")
    survey.write(path, raw_frames=False)
    return path


def test_built_masters_agree_with_the_camera_within_their_errors(root, ready_made):
    """Masters built from the raw frames (by the master job's own step) recover the camera's
    bias, dark current and flat within the errors they state; their pixels are those the
    science frames of the demo were calibrated with, recorded in truth/masters.tsv."""
    recorded = {r["relpath"]: r for r in read_tsv(root / "truth/masters.tsv")}
    assert recorded == {r["relpath"]: r for r in read_tsv(ready_made / "truth/masters.tsv")}
    assert not (ready_made / "raw").exists()
    for m in (m for m in MASTERS if m.raws):
        assert calibration.data_digest(ready_made / m.relpath) == recorded[m.relpath]["data_sha256"]
        with fits.open(ready_made / m.relpath) as hdul:
            header, data = hdul[0].header, hdul[0].data
            names = [h.name for h in hdul]
            stated = hdul["ERR"].data.astype(float)
            read_noise = hdul["RDNOISE"].data.astype(float) if m.imagetyp == "BIAS" else None
        assert (header["NCOMBINE"], header["COMBMETH"], header["DATE-OBS"]) == (
            len(m.raws), "median", m.date_obs,
        )  # fmt: skip
        assert names == ["PRIMARY", "ERR", *(["RDNOISE"] if m.imagetyp == "BIAS" else []), "INPUTS"]
        bias = calibration.prerequisites(m, MASTERS).get("BIAS") if m.imagetyp == "DARK" else None
        assert_within_its_errors(m, data, bias)
        true_error = calibration.true_master(m, SHAPE)[1]
        assert np.sqrt(np.mean(stated**2) / np.mean(true_error**2)) == pytest.approx(1, abs=0.01)
        if m.imagetyp == "BIAS":  # the per-pixel read noise, telegraph pixels included
            truth = instrument.camera(m.unit, SHAPE).read_noise.astype(float)
            noisiest = truth >= np.quantile(truth, 0.99)
            for pixels in (slice(None), noisiest):
                ratio = np.mean(read_noise[pixels] ** 2) / np.mean(truth[pixels] ** 2)
                assert np.sqrt(ratio) == pytest.approx(1, abs=0.02)
        if m.imagetyp == "DARK":  # the hot pixels' dark current
            current = instrument.camera(m.unit, SHAPE).dark_current
            hot = current > 0.05
            assert 0.003 < hot.mean() < 0.007
            measured = data[hot] * instrument.EGAIN / m.exptime
            assert np.median(measured / current[hot]) == pytest.approx(1, abs=0.1)


def test_truth_table_of_the_masters(root):
    rows = read_tsv(root / "truth/masters.tsv")
    assert [r["relpath"] for r in rows] == [m.relpath for m in MASTERS]
    for m, row in zip(MASTERS, rows, strict=True):
        level, error = calibration.true_master(m, SHAPE)
        assert float(row["true_level"]) == pytest.approx(np.median(level), rel=1e-5)
        assert float(row["true_error"]) == pytest.approx(np.median(error), rel=1e-5)
        assert row["made"] == ("raw frames" if m.raws else "hand-made")
        assert row["combine"] == ("median" if m.raws else "mean")
        if not m.raws:
            assert calibration.data_digest(root / m.relpath) == row["data_sha256"]


# --- truth ----------------------------------------------------------------------------------------


def test_saturated_pixels_read_saturate_at_flagged_stars(root):
    flagged = 0
    for f in FRAMES:
        data = fits.getdata(root / f.relpath)
        table = survey.stars(f, SHAPE)
        assert data.max() <= survey.SATURATE
        saturated = data == survey.SATURATE
        for star in table[table["saturated"]]:
            i = int(np.clip(np.rint(star["x"]), 0, SHAPE[1] - 1))
            j = int(np.clip(np.rint(star["y"]), 0, SHAPE[0] - 1))
            assert saturated[j, i]
        bright = table[table["peak"] > 0.5 * survey.SATURATE]
        assert not (saturated & ~stamp_mask(bright, SHAPE)).any()
        assert saturated.any() == table["saturated"].any()
        flagged += table["saturated"].sum()
    assert flagged >= 4 * len(FRAMES)


def test_star_counts_and_peaks():
    for f in FRAMES:
        table = survey.stars(f, SHAPE)
        inside = table[
            (table["x"] > -0.5)
            & (table["x"] < SHAPE[1] - 0.5)
            & (table["y"] > -0.5)
            & (table["y"] < SHAPE[0] - 0.5)
        ]
        assert len(inside) == pytest.approx(450 if f.crowded else 150, rel=0.2)
        noise = np.sqrt(np.mean(survey.true_sigma(f, SHAPE) ** 2))
        assert table["peak"].min() < 2 * noise
        assert table["peak"].max() > 5 * survey.SATURATE
        assert table["saturated"].sum() >= 2
    small = survey.stars(FRAMES[0], SMALL)
    assert len(small) < len(survey.stars(FRAMES[0], SHAPE)) / 10


def test_noise_in_source_free_pixels_matches_true_sigma(root):
    pooled = []
    for f in FRAMES:
        data = fits.getdata(root / f.relpath).astype(float)
        free = ~stamp_mask(survey.stars(f, SHAPE), SHAPE)
        if f.object == survey.GALAXY["object"]:
            free &= galaxy_distance_arcsec(f, SHAPE) > 2 * survey.GALAXY["radius_arcsec"]
        assert free.mean() > 0.3
        sigma = survey.true_sigma(f, SHAPE)[free]
        residual = (data - survey.true_sky(f, SHAPE))[free]
        assert np.std(residual / sigma) == pytest.approx(1.0, abs=0.02), f.relpath
        assert abs(residual.mean()) < 0.05 * sigma.mean(), f.relpath
        pooled.append(residual / sigma)
    pooled = np.concatenate(pooled)  # ~8 million pixels: every noise term matters at 0.3 %
    assert np.std(pooled) == pytest.approx(1.0, abs=0.003)
    assert abs(pooled.mean()) < 0.005


def test_sky_levels_and_shape():
    for f in FRAMES:
        sky = survey.true_sky(f, SHAPE)
        per_100s = sky.mean() * 100 / f.exptime
        assert per_100s == pytest.approx({"m600": 300, "r": 1500}[f.filter], rel=0.2)
        ny, nx = SHAPE
        across = np.hypot(sky[ny // 2, -1] - sky[ny // 2, 0], sky[-1, nx // 2] - sky[0, nx // 2])
        assert 0.03 < across / sky.mean() < 0.15


def test_galaxy_lies_inside_its_circle_in_every_frame():
    for f in FRAMES:
        galaxy = survey.true_galaxy(f, SHAPE)
        if f.object != survey.GALAXY["object"]:
            assert not galaxy.any()
            continue
        ratio = galaxy / survey.true_sigma(f, SHAPE)
        outside = galaxy_distance_arcsec(f, SHAPE) > survey.GALAXY["radius_arcsec"]
        assert ratio[outside].max() < 0.5
        assert ratio.max() > 4
        assert (ratio > 0.5).sum() * 0.505**2 > 200  # extended: > 200 arcsec^2 above half sigma


def test_truth_tables_match_the_truth_functions(root):
    rows = read_tsv(root / "truth/frames.tsv")
    assert [r["relpath"] for r in rows] == [f.relpath for f in FRAMES]
    for f, row in zip(FRAMES, rows, strict=True):
        assert (row["object"], row["unit"], row["filter"]) == (f.object, f.unit, f.filter)
        assert float(row["exptime"]) == f.exptime
        noise = np.sqrt(np.mean(survey.true_sigma(f, SHAPE) ** 2))
        assert float(row["noise"]) == pytest.approx(noise, rel=1e-6)
        assert float(row["sky_median"]) == pytest.approx(np.median(survey.true_sky(f, SHAPE)))
        table = survey.stars(f, SHAPE)
        assert int(row["n_stars"]) == len(table)
        assert int(row["n_saturated"]) == table["saturated"].sum()
        stars = read_tsv(root / f"truth/stars/{Path(f.relpath).stem}.tsv")
        assert [float(s["x"]) for s in stars] == pytest.approx(table["x"], abs=1e-4)
        assert [float(s["peak"]) for s in stars] == pytest.approx(table["peak"], rel=1e-9)
        assert [float(s["flux"]) for s in stars] == pytest.approx(table["flux"], rel=1e-9)
        assert [int(s["halfsize"]) for s in stars] == list(table["halfsize"])
        assert [s["saturated"] == "1" for s in stars] == list(table["saturated"])


@pytest.mark.parametrize(("k", "method"), [(1.0, "mean"), (0.6, "mean"), (0.5, "median"),
                                           (0.25, "median")])  # fmt: skip
def test_calibrated_sigma_with_a_dark_subtracted_with_the_frames_bias(k, method):
    """Monte Carlo, one sample per pixel of a CMOS-like camera: the (1 - k)**2 bias and k**2
    dark terms are exact, with per-pixel read noise and dark current, for masters that are means
    or medians of rounded raw frames.

    Low sky and few bias frames make the bias term large: the variance of the old model (a dark
    without bias noise, bias term r**2 / N_b for every k) and of a dark subtracted with an
    independent bias both differ from the truth by > 8 %, far beyond the 0.6 % tolerance.
    """
    rng = np.random.default_rng(1)
    shape = (1000, 1000)
    cam = physics.cmos_camera(instrument.cmos_model("7DT02"), shape, rng)
    sky, flat = np.full(shape, 5.0), np.ones(shape)
    t_dark, nbias, ndark, nflat, counts = 100.0, 3, 3, 5, 20000.0
    exptime = k * t_dark
    combine = {"mean": np.mean, "median": np.median}[method]

    def master(n, seconds):
        frames = [physics.quantise(physics.exposure(0.0, cam, seconds, rng)) for _ in range(n)]
        return combine(np.asarray(frames, dtype=float), axis=0)

    bias = master(nbias, 0.0)
    dark = master(ndark, t_dark) - bias
    mflat = physics.master_flat(flat, nflat, counts, rng)
    raw = physics.expose(sky, flat, cam, exptime, 1, rng)
    calibrated = physics.calibrate(raw, bias, dark, t_dark, mflat, exptime)
    factor = variance_factor(method, 3)
    combination = {"bias": physics.Combination(nbias, factor, quantised=True),
                   "dark": physics.Combination(ndark, factor, quantised=True)}  # fmt: skip
    flat_variance = physics.flat_relative_variance(flat, counts, physics.Combination(nflat))
    sigma = physics.calibrated_sigma(
        sky, flat, exptime, cam, 1, combination["bias"], combination["dark"], t_dark, flat_variance
    )
    pull = (calibrated - sky) / sigma
    assert pull.mean() == pytest.approx(0.0, abs=0.01)
    assert pull.var() == pytest.approx(1.0, abs=0.006)
    bias_var = np.mean(combination["bias"].variance(cam.read_noise.astype(float) ** 2, cam.egain))
    variance = np.mean(sigma**2) * cam.egain**2  # e-^2, flat 1
    old_model = variance + (1 - (1 - k) ** 2) * bias_var
    independent_bias = variance + (1 - (1 - k) ** 2 + k**2) * bias_var
    assert min(old_model, independent_bias) / variance > 1.08


def test_short_frames_use_the_bias_term(root):
    """The 30 s frames (k = 0.5) match true_sigma, which differs from the k = 1 formula."""
    for f in SHORT:
        bias, dark, flat_master = survey.frame_masters(f)
        assert f.exptime / dark.exptime == 0.5
        data = fits.getdata(root / f.relpath).astype(float)
        free = ~stamp_mask(survey.stars(f, SHAPE), SHAPE)
        sigma = survey.true_sigma(f, SHAPE)
        pull = ((data - survey.true_sky(f, SHAPE)) / sigma)[free]
        assert np.std(pull) == pytest.approx(1.0, abs=0.006), f.relpath
        # Bias and dark terms (e-^2) as the flat-free part of sigma**2 shows them.
        cam = instrument.camera(f.unit, SHAPE)
        g, r2 = cam.egain, cam.read_noise.astype(float) ** 2
        current = cam.dark_current.astype(float)
        var_b = bias.combination().variance(r2, g)
        terms = 0.25 * var_b + 0.25 * dark.combination().variance(current * 60 + r2, g)
        flat = instrument.true_flat(f.unit, f.filter, SHAPE)
        sky = survey.true_sky(f, SHAPE)
        rest = (flat * sky * g + current * 30 + r2) / (g * flat) ** 2
        rest += sky**2 * calibration.flat_variance(flat_master, SHAPE)
        np.testing.assert_allclose(sigma**2 - rest, terms / (g * flat) ** 2, rtol=1e-9)
        assert np.all(var_b > 0.9 * r2 / (bias.ncombine or calibration.UNRECORDED_NCOMBINE))


# --- ensure ---------------------------------------------------------------------------------------


def mtimes(path):
    return {name: (Path(path) / name).stat().st_mtime_ns for name in files_under(path)}


def test_ensure_writes_once_and_rewrites_when_stale(tmp_path):
    target = tmp_path / "demo"
    assert survey.ensure(target, SMALL) is True
    assert files_under(target) == survey.output_relpaths()
    stamp = json.loads((target / "demo.json").read_text())
    assert stamp == {"shape": list(SMALL), "seed": 7, "raw_frames": True,
                     "version": survey.DEMO_VERSION}  # fmt: skip
    before = mtimes(target)
    start = time.perf_counter()
    assert survey.ensure(target, SMALL, seed=7) is False
    assert time.perf_counter() - start < 0.5
    assert mtimes(target) == before
    # Another seed: rewritten, and the old seed's differently named frames are gone.
    assert survey.ensure(target, SMALL, seed=8) is True
    assert files_under(target) == survey.output_relpaths(8)
    assert json.loads((target / "demo.json").read_text())["seed"] == 8
    assert survey.ensure(target, SMALL, seed=8) is False


def test_ensure_redoes_an_interrupted_or_other_write(tmp_path):
    target = tmp_path / "demo"
    survey.write(target, SMALL)
    assert survey.ensure(target, SMALL) is False
    (target / "demo.json").unlink()  # as if interrupted before the stamp
    assert survey.ensure(target, SMALL) is True
    lost = survey.output_relpaths()[0]
    (target / lost).unlink()  # removed by hand (or a sync): the survey is data now
    assert survey.ensure(target, SMALL) is False
    assert files_under(target) == [p for p in survey.output_relpaths() if p != lost]
    stamp = json.loads((target / "demo.json").read_text())
    (target / "demo.json").write_text(json.dumps(dict(stamp, version=survey.DEMO_VERSION - 1)))
    old_master = target / "calib/7DT/7DT_C361K_HIGH_1x1/7DT02/BIAS/bias_7DT02_20251120.fits"
    old_master.write_bytes(b"an older version's master")  # named as no master is now
    (target / "notes.txt").write_text("the user's")
    assert survey.ensure(target, SMALL) is True
    assert not old_master.exists() and (target / "notes.txt").exists()
    (target / "notes.txt").unlink()
    assert survey.ensure(target, (100, 150)) is True
    assert fits.getdata(target / FRAMES[0].relpath).shape == (100, 150)
    (target / "demo.json").write_text("{not json")
    assert survey.ensure(target, (100, 150)) is True
    assert survey.ensure(target, (100, 150)) is False
