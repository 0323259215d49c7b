"""Masters built from raw frames make the propagated RMS exact, pixel by pixel (issue #14).

A CMOS-like camera is simulated: read noise per pixel from a lognormal core with 1% of
the pixels 3-5x noisier (random-telegraph pixels), 0.5% hot pixels, a flat with 5%
pixel-to-pixel response and vignetting. In each of 200 independent realizations, 5
raw biases, darks and flats are combined into masters by the master job's own step
(skyrms.steps.masters.build_master) and one raw science frame is calibrated with them;
the propagated RMS comes from the propagation job's own step. Per pixel, the propagated
RMS (root of the mean propagated variance) is compared with the empirical standard
deviation of the calibrated frames over the realizations (statistical error of one
pixel's ratio: 1/sqrt(2 x 199) = 5%; of a median over the 1% noisiest pixels:
about 0.7%). The median of 3 and the extrema-clipped mean of 7 take 60 realizations
(a pixel's ratio to 9%, their medians to 0.2% and 1.2%).
"""

from dataclasses import dataclass, replace

import numpy as np
import pytest
from astropy.io import fits

from skyrms.config import settings_of
from skyrms.science.combine import CombineParams
from skyrms.steps.masters import build_master
from skyrms.steps.propagated_rms import propagated_rms

SHAPE = (60, 100)
REALIZATIONS = 200
EGAIN = 0.5  # e-/ADU
BIAS_LEVEL = 100.0  # ADU
DARK_CURRENT = 0.02  # e-/s, hot pixels 100 times more
SKY = 0.3  # e- per second of science exposure, before the flat: read noise matters
FLAT_COUNTS = 20000.0  # e- per flat frame


@dataclass
class Camera:
    """The truth of one simulated camera."""

    read_noise: np.ndarray  # e- per pixel
    dark_current: np.ndarray  # e-/s per pixel
    flat: np.ndarray  # response, median 1
    noisiest: np.ndarray  # the 1% of pixels with the highest read noise


def camera(seed=1) -> Camera:
    rng = np.random.default_rng(seed)
    read_noise = rng.lognormal(np.log(3.0), 0.2, SHAPE)
    telegraph = rng.random(SHAPE) < 0.01
    read_noise[telegraph] *= rng.uniform(3, 5, np.count_nonzero(telegraph))
    dark_current = np.full(SHAPE, DARK_CURRENT)
    dark_current[rng.random(SHAPE) < 0.005] *= 100
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    vignetting = 1 - 0.15 * (((x - 50) / 50) ** 2 + ((y - 30) / 30) ** 2) / 2
    flat = vignetting * rng.normal(1, 0.05, SHAPE)
    flat /= np.median(flat)
    noisiest = read_noise >= np.quantile(read_noise, 0.99)
    return Camera(read_noise, dark_current, flat, noisiest)


def raw(cam, rng, exptime, electrons=0.0, read_noise=None) -> np.ndarray:
    """One raw frame (ADU): bias, dark current and ``electrons`` (flat-fielded) with
    Poisson noise, and Gaussian read noise (per pixel, or the camera's)."""
    signal = rng.poisson(cam.dark_current * exptime + electrons * cam.flat)
    noise = cam.read_noise if read_noise is None else read_noise
    return (BIAS_LEVEL + (signal + rng.normal(0, 1, SHAPE) * noise) / EGAIN).astype(np.float32)


def write(path, data, **cards) -> str:
    header = fits.Header([("DATE-OBS", "2025-11-20T03:00:00"), ("EGAIN", EGAIN)])
    header.update(cards)
    fits.writeto(path, data, header, overwrite=True)
    return str(path)


def masters(cam, rng, folder, params: CombineParams, n: int) -> dict[str, str]:
    """Master bias, dark (100 s) and flat built from ``n`` raw frames each."""
    kinds = {
        "BIAS": ({"IMAGETYP": "BIAS"}, lambda: raw(cam, rng, 0.0)),
        "DARK": ({"IMAGETYP": "DARK", "EXPTIME": 100.0}, lambda: raw(cam, rng, 100.0)),
        "FLAT": ({"IMAGETYP": "FLAT", "EXPTIME": 1.0, "FILTER": "r"},
                 lambda: raw(cam, rng, 1.0, FLAT_COUNTS)),
    }  # fmt: skip
    built = {}
    for imagetyp, (cards, frame) in kinds.items():
        raws = [write(folder / f"{imagetyp}{i}.fits", frame(), **cards) for i in range(n)]
        built[imagetyp] = str(folder / f"master_{imagetyp}.fits")
        build_master(
            imagetyp, raws, built[imagetyp], params, group=imagetyp, min_frames=n,
            bias=built.get("BIAS") if imagetyp != "BIAS" else None,
            dark=built.get("DARK") if imagetyp == "FLAT" else None,
            digests=dict.fromkeys(raws, "0" * 64),
        )  # fmt: skip
    return built


CALIBRATION = settings_of({}).calibration


def realizations(tmp_path, params, n, count=REALIZATIONS):
    """Per pixel, propagated / empirical RMS of the calibrated frames over ``count``
    realizations: with the master bias's read-noise map, and with one read noise for all
    pixels (the true map's median) in place of it."""
    cam = camera()
    rng = np.random.default_rng(7)
    exptime, sky = 100.0, SKY * 100.0
    calibrated, variances = [], {"map": [], "scalar": []}
    sky_map = write(tmp_path / "bkg.fits", np.full(SHAPE, sky / EGAIN, np.float32))
    fields = {"EXPTIME": exptime, "EGAIN": EGAIN}
    for _ in range(count):
        paths = masters(cam, rng, tmp_path, params, n)
        bias, dark, flat = (fits.getdata(paths[t]) for t in ("BIAS", "DARK", "FLAT"))
        science = raw(cam, rng, exptime, sky)
        calibrated.append((science - bias - dark) / flat)
        choice = {t: {"path": p, "days": 0.0} for t, p in paths.items()}
        for kind, noise in (("map", None), ("scalar", float(np.median(cam.read_noise)))):
            output = tmp_path / f"{kind}.fits"
            settings = replace(CALIBRATION, read_noise=noise)
            propagated_rms("science.fits", sky_map, sky_map, choice, output, settings, fields)
            variances[kind].append(fits.getdata(output, ext=-1).astype(np.float64) ** 2)
    empirical = np.std(calibrated, axis=0, ddof=1)
    ratios = {kind: np.sqrt(np.mean(v, axis=0)) / empirical for kind, v in variances.items()}
    return cam, ratios


@pytest.fixture(scope="module")
def median_of_five(tmp_path_factory):
    return realizations(tmp_path_factory.mktemp("mc5"), CombineParams("median"), 5)


def test_propagated_rms_is_right_pixel_by_pixel(median_of_five):
    cam, ratios = median_of_five
    assert abs(np.median(ratios["map"]) - 1) < 0.02
    assert abs(np.median(ratios["map"][cam.noisiest]) - 1) < 0.10


def test_a_scalar_read_noise_misses_the_noisiest_pixels(median_of_five):
    """The same realizations with one read noise for all pixels (the map's median)."""
    cam, ratios = median_of_five
    assert np.median(ratios["scalar"][cam.noisiest]) < 0.7


@pytest.mark.parametrize(
    ("params", "n"), [(CombineParams("median"), 3), (CombineParams("minmax", nlow=1, nhigh=1), 7)]
)
def test_small_medians_and_extrema_clipped_means(tmp_path, params, n):
    cam, ratios = realizations(tmp_path, params, n, count=60)
    assert abs(np.median(ratios["map"]) - 1) < 0.02
    assert abs(np.median(ratios["map"][cam.noisiest]) - 1) < 0.10
