"""The embedded demo survey: plan, files, headers, WCS, determinism and the truth it promises."""

import csv
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from skyrms.demo import physics, survey

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
        assert flats == {(d, b) for d in ("2025-10-10", "2025-11-19") for b in survey.FILTERS}
    names = {Path(m.relpath).name for m in MASTERS}
    assert {"bias_7DT02_20251120.fits", "dark_7DT02_20251120_100s.fits"} <= names
    assert "flat_7DT02_20251119_m600.fits" in names
    for m in MASTERS:
        assert (
            m.relpath
            == f"calib/7DT/7DT_C361K_HIGH_1x1/{m.unit}/{m.imagetyp}/" + Path(m.relpath).name
        )
        assert (m.exptime is not None) == (m.imagetyp == "DARK")
        assert (m.filter is not None) == (m.imagetyp == "FLAT")
    for imagetyp in ("BIAS", "DARK", "FLAT"):
        counts = [m.ncombine for m in MASTERS if m.imagetyp == imagetyp]
        assert None in counts
        assert sum(c is not None for c in counts) > len(counts) / 2


def test_frame_masters_match_unit_night_exptime_and_filter():
    for f in FRAMES:
        bias, dark, flat = survey.frame_masters(f)
        assert {bias.unit, dark.unit, flat.unit} == {f.unit}
        assert bias.date_obs[:10] == dark.date_obs[:10] == f.date_obs[:10]
        assert dark.exptime == (60.0 if f in SHORT else f.exptime)
        assert (flat.filter, flat.date_obs[:10]) == (f.filter, "2025-11-19")
    used = {m.relpath for f in FRAMES for m in survey.frame_masters(f)}
    assert any(m.ncombine is None for m in MASTERS if m.relpath in used)
    assert 30.0 not in {m.exptime for m in MASTERS}  # the short frames have no dark of their own


# --- files ----------------------------------------------------------------------------------------


def test_output_relpaths_are_exactly_the_written_files(root):
    expected = survey.output_relpaths()
    assert expected == sorted(expected)
    assert files_under(root) == expected
    assert "truth/frames.tsv" in expected and "demo.json" in expected
    assert len(expected) == 18 + 22 + 1 + 18 + 1
    stamp = json.loads((root / "demo.json").read_text())
    assert stamp == {"shape": list(SHAPE), "seed": 7, "version": survey.DEMO_VERSION}


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


def test_master_headers_and_pixels(root):
    for m in MASTERS:
        data, header = fits.getdata(root / m.relpath, header=True)
        assert data.dtype == np.dtype(">f4") and data.shape == SHAPE
        assert header["IMAGETYP"] == m.imagetyp
        assert header["DATE-OBS"] == m.date_obs
        assert (header["TELESCOP"], header["INSTRUME"], header["EGAIN"]) == (
            m.unit,
            "C361K",
            0.2561,
        )
        assert header.get("EXPTIME") == m.exptime
        assert header.get("FILTER") == m.filter
        assert header.get("NCOMBINE") == m.ncombine
        n = m.ncombine or survey.UNRECORDED_NCOMBINE
        read = 6.0 / 0.2561 / np.sqrt(n)  # ADU
        with fits.open(root / m.relpath) as hdul:
            assert [h.name for h in hdul] == (
                ["PRIMARY", "ERR"] if m.imagetyp == "FLAT" else ["PRIMARY"]
            )
        if m.imagetyp == "BIAS":
            assert data.mean() == pytest.approx(survey.BIAS_LEVEL[m.unit], abs=0.2)
            assert data.std() == pytest.approx(read, rel=0.01)
        elif m.imagetyp == "DARK":
            assert data.mean() == pytest.approx(0.0008 * m.exptime / 0.2561, abs=0.1)
            (bias,) = (
                b
                for b in MASTERS
                if b.imagetyp == "BIAS" and (b.unit, b.date_obs[:10]) == (m.unit, m.date_obs[:10])
            )
            nb = bias.ncombine or survey.UNRECORDED_NCOMBINE
            read_b = 6.0 / 0.2561 / np.sqrt(nb)
            dark_var = (0.0008 * m.exptime + 36.0) / 0.2561**2 / n  # mean of the raw darks
            assert data.std() == pytest.approx(np.sqrt(dark_var + read_b**2), rel=0.01)
            # Bias-subtracted with that very bias: dark + bias is the mean of the raw darks.
            raw_mean = data.astype(float) + fits.getdata(root / bias.relpath).astype(float)
            assert raw_mean.mean() == pytest.approx(
                survey.BIAS_LEVEL[m.unit] + 0.0008 * m.exptime / 0.2561, abs=0.1
            )
            assert raw_mean.std() == pytest.approx(np.sqrt(dark_var), rel=0.01)
        else:
            assert data.mean() == pytest.approx(1.0, abs=1e-4)
            assert 0.01 < data.std() < 0.03
            err, err_header = fits.getdata(root / m.relpath, "ERR", header=True)
            assert err.dtype == np.dtype(">f4") and err.shape == SHAPE
            assert "BUNIT" not in err_header  # dimensionless, like the flat
            true_flat = survey._true_flat(m.unit, m.filter, SHAPE)
            expected_err = np.sqrt(true_flat / (n * survey.FLAT_COUNTS))
            np.testing.assert_allclose(err, expected_err, rtol=1e-6)
            np.testing.assert_array_equal(err, survey.flat_error(m, SHAPE))
            pull = (data - true_flat) / err
            assert pull.std() == pytest.approx(1.0, abs=0.01)
            assert abs(pull.mean()) < 0.01


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


@pytest.mark.parametrize("k", [1.0, 0.6, 0.5, 0.25])
def test_calibrated_sigma_with_a_dark_subtracted_with_the_frames_bias(k):
    """Monte Carlo, one sample per pixel: the (1 - k)**2 bias and k**2 dark terms are exact.

    Low sky and few bias frames make the bias term large: the variance of the old model (a dark
    without bias noise, bias term r**2 / N_b for every k) and of a dark subtracted with an
    independent bias both differ from the truth by > 8 %, far beyond the 0.6 % tolerance.
    """
    rng = np.random.default_rng(1)
    shape, detector = (1000, 1000), survey.DETECTOR
    sky, flat = np.full(shape, 5.0), np.ones(shape)
    t_dark, nbias, ndark, nflat, counts = 100.0, 3, 3, 5, 20000.0
    exptime = k * t_dark
    bias = physics.master_bias(shape, 500.0, detector, nbias, rng)
    dark = physics.master_dark(bias, 500.0, t_dark, detector, ndark, rng)
    mflat = physics.master_flat(flat, nflat, counts, rng)
    raw = physics.expose(sky, flat, 500.0, exptime, detector, 1, rng)
    calibrated = physics.calibrate(raw, bias, dark, t_dark, mflat, exptime)
    variance = np.mean(
        physics.calibrated_sigma(
            sky, flat, exptime, detector, 1, nbias, ndark, t_dark, nflat, counts
        )
        ** 2
    )
    assert calibrated.mean() == pytest.approx(5.0, abs=0.2)
    assert calibrated.var() / variance == pytest.approx(1.0, abs=0.006)
    bias_var = detector.read_noise**2 / nbias / detector.egain**2  # ADU^2
    old_model = variance + (1 - (1 - k) ** 2) * bias_var
    independent_bias = variance + (1 - (1 - k) ** 2 + k**2) * bias_var
    assert min(old_model, independent_bias) / variance > 1.08


def test_short_frames_use_the_bias_term(root):
    """The 30 s frames (k = 0.5) match true_sigma, which differs from the k = 1 formula."""
    for f in SHORT:
        bias, dark, _ = survey.frame_masters(f)
        assert f.exptime / dark.exptime == 0.5
        data = fits.getdata(root / f.relpath).astype(float)
        free = ~stamp_mask(survey.stars(f, SHAPE), SHAPE)
        sigma = survey.true_sigma(f, SHAPE)
        pull = ((data - survey.true_sky(f, SHAPE)) / sigma)[free]
        assert np.std(pull) == pytest.approx(1.0, abs=0.006), f.relpath
        nb = bias.ncombine or survey.UNRECORDED_NCOMBINE
        nd = dark.ncombine or survey.UNRECORDED_NCOMBINE
        # Bias and dark terms (e-^2) as the flat-free part of sigma**2 shows them.
        g, r2 = 0.2561, 36.0
        terms = 0.25 * r2 / nb + 0.25 * (0.0008 * 60 + r2) / nd
        flat = survey._true_flat(f.unit, f.filter, SHAPE)
        sky = survey.true_sky(f, SHAPE)
        nf = survey.frame_masters(f)[2].ncombine or survey.UNRECORDED_NCOMBINE
        rest = (flat * sky * g + 0.0008 * 30 + r2) / (g * flat) ** 2
        rest += sky**2 / (nf * survey.FLAT_COUNTS * flat)
        np.testing.assert_allclose(sigma**2 - rest, terms / (g * flat) ** 2, rtol=1e-9)


# --- ensure ---------------------------------------------------------------------------------------


def mtimes(path):
    return {name: (Path(path) / name).stat().st_mtime_ns for name in files_under(path)}


def test_ensure_writes_once_and_rewrites_when_stale(tmp_path):
    target = tmp_path / "demo"
    assert survey.ensure(target, SMALL) is True
    assert files_under(target) == survey.output_relpaths()
    stamp = json.loads((target / "demo.json").read_text())
    assert stamp == {"shape": list(SMALL), "seed": 7, "version": survey.DEMO_VERSION}
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
    assert survey.ensure(target, SMALL) is True
    assert survey.ensure(target, (100, 150)) is True
    assert fits.getdata(target / FRAMES[0].relpath).shape == (100, 150)
    (target / "demo.json").write_text("{not json")
    assert survey.ensure(target, (100, 150)) is True
    assert survey.ensure(target, (100, 150)) is False
