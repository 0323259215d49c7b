"""Physics of simulated survey frames: sky, stars, galaxy, camera, exposure, masters, calibration.

Everything here is a pure function of numpy arrays (plus a ``numpy.random.Generator`` where noise
is drawn); nothing touches files. Units used throughout:

* images of the sky (sky, stars, galaxy, their sum the *model*) are in **calibrated ADU**: the value
  a perfectly bias-, dark- and flat-corrected frame reads on average;
* detector quantities are in electrons (e-): read noise (e- rms per read), dark current
  (e-/s/pixel), flat-field counts (e- per pixel per flat frame);
* ``egain`` converts them: ADU = e- / egain (egain in e-/ADU);
* pixel coordinates are 0-based with the centre of pixel ``image[j, i]`` at ``(x, y) = (i, j)``
  (numpy/SEP convention); ``shape`` is ``(ny, nx)``.

The camera is CMOS-like (:class:`Camera`, :func:`cmos_camera`): every pixel has its own bias
``b`` (ADU), read noise ``r`` (e-, a lognormal core with a tail of random-telegraph pixels) and
dark current ``D`` (e-/s, with hot pixels). One exposure of ``t`` s collecting ``e`` electrons
of light per pixel reads (:func:`exposure`)

    raw (ADU) = b + [Poisson(e + D t) + r N(0, 1)] / g

and a raw calibration frame is that rounded to 16-bit integers, as the camera writes it
(:func:`quantise`). A science frame of the model M through the true flat F is the mean of
``nsub`` such exposures with ``e = F M g`` (:func:`expose`), calibrated as

    calibrated = (raw - master_bias - master_dark t / t_dark) / master_flat

With the master dark bias-subtracted with the same master bias that calibrates the frame,
k = t / t_dark and Dmean the combination of the raw darks,
``calibrated = (raw - (1 - k) master_bias - k Dmean) / master_flat``: the bias noise enters with
weight (1 - k) and cancels for k = 1. :func:`calibrated_sigma` gives the noise this process
implies, for masters combined from raw frames by any combination whose variance factor is known.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """The truth of one camera: ``egain`` (e-/ADU) and per-pixel maps (ny, nx): ``bias`` (ADU),
    ``read_noise`` (e- rms per read) and ``dark_current`` (e-/s)."""

    egain: float
    bias: np.ndarray
    read_noise: np.ndarray
    dark_current: np.ndarray


# --- sky ------------------------------------------------------------------------------------------


def smooth_sky(x, y, shape, level, gradient, angle, curvature):
    """Smooth sky background in calibrated ADU at pixel centres ``(x, y)`` (broadcastable arrays).

    ``S = level * (1 + gradient * (u cos(angle) + v sin(angle)) + curvature * (u**2 + v**2 - m))``
    with ``u = (x - (nx - 1) / 2) / nx`` and ``v = (y - (ny - 1) / 2) / nx`` (offsets from the
    frame centre in units of the frame width). So ``gradient`` is the fractional change of the sky
    across one frame width along the direction ``angle`` (radians, from +x towards +y),
    ``curvature`` the fractional depth of a bowl (> 0: brighter corners), and ``m`` the mean of
    ``u**2 + v**2`` over the frame, so the frame mean of S is ``level`` (ADU).
    """
    ny, nx = shape
    u = (np.asarray(x, dtype=float) - (nx - 1) / 2) / nx
    v = (np.asarray(y, dtype=float) - (ny - 1) / 2) / nx
    mean_r2 = ((nx**2 - 1) + (ny**2 - 1)) / (12 * nx**2)
    tilt = gradient * (u * np.cos(angle) + v * np.sin(angle))
    return level * (1 + tilt + curvature * (u**2 + v**2 - mean_r2))


# --- flat field -----------------------------------------------------------------------------------


def vignetting(shape, depth, centre):
    """Smooth illumination pattern (dimensionless): ``1 - depth * (r / r_max)**2``.

    ``r`` is the distance (px) from the optical axis ``centre = (x, y)``, ``r_max`` the half
    diagonal of the frame, so the corners lose about ``depth`` (e.g. 0.04 = 4 %).
    """
    ny, nx = shape
    y, x = np.ogrid[:ny, :nx]
    r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2
    return 1 - depth * r2 / ((nx**2 + ny**2) / 4)


def flat_field(shape, depth, centre, prnu, rng):
    """True flat (dimensionless, median exactly 1, as a master flat is normalised): vignetting
    times ``1 + prnu * N(0, 1)`` per pixel.

    ``prnu`` is the rms pixel-to-pixel response variation (e.g. 0.015 = 1.5 %).
    """
    response = 1 + prnu * rng.standard_normal(shape)
    flat = vignetting(shape, depth, centre) * response
    return flat / np.median(flat)


# --- stars ----------------------------------------------------------------------------------------


def moffat_alpha(fwhm, beta):
    """Moffat core radius alpha (px) for a full width at half maximum ``fwhm`` (px)."""
    return fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))


def moffat_value(d2, flux, fwhm, beta):
    """Moffat PSF sampled at squared distance ``d2`` (px^2) from a star of total ``flux`` (ADU).

    ``flux * (beta - 1) / (pi alpha**2) * (1 + d2 / alpha**2) ** -beta`` in ADU per pixel; it
    integrates to ``flux`` over the plane. Stars are point-sampled at pixel centres.
    """
    alpha2 = moffat_alpha(fwhm, beta) ** 2
    return flux * (beta - 1) / (np.pi * alpha2) * (1 + d2 / alpha2) ** -beta


def moffat_halfsize(flux, fwhm, beta, floor, largest):
    """Half size (px, int) of the square stamp a star is rendered on.

    The smallest radius beyond which the PSF of a star of ``flux`` (ADU) stays below ``floor``
    (ADU/pixel), rounded up, at least 1 and at most ``largest``. Outside its stamp a star adds
    exactly nothing to the image.
    """
    central = moffat_value(0.0, np.asarray(flux, dtype=float), fwhm, beta)
    ratio = np.maximum(central / floor, 1.0) ** (1 / beta) - 1
    radius = moffat_alpha(fwhm, beta) * np.sqrt(ratio)
    return np.clip(np.ceil(radius), 1, largest).astype(int)


def nearest_pixel(x, y, shape):
    """Indices ``(i, j)`` of the in-frame pixel whose centre is nearest to ``(x, y)`` (px)."""
    ny, nx = shape
    i = np.clip(np.rint(x), 0, nx - 1).astype(int)
    j = np.clip(np.rint(y), 0, ny - 1).astype(int)
    return i, j


def add_moffat_stars(image, x, y, flux, halfsize, fwhm, beta):
    """Add Moffat stars (centres ``x``, ``y`` in px, ``flux`` in ADU) to ``image`` in place.

    Each star is sampled on a ``2 * halfsize + 1`` square stamp centred on its nearest pixel
    (``rint``); stamps may hang over the frame edge, only their in-frame part is added. Stars of
    equal stamp size are rendered together, so the cost grows with the stamped area, not the frame.
    """
    ny, nx = image.shape
    for size in np.unique(halfsize):
        sel = halfsize == size
        offsets = np.arange(-size, size + 1)
        ci, cj = np.rint(x[sel]).astype(int), np.rint(y[sel]).astype(int)
        ii = ci[:, None, None] + offsets[None, None, :]
        jj = cj[:, None, None] + offsets[None, :, None]
        d2 = (ii - x[sel, None, None]) ** 2 + (jj - y[sel, None, None]) ** 2
        values = moffat_value(d2, flux[sel, None, None], fwhm, beta)
        inside = (ii >= 0) & (ii < nx) & (jj >= 0) & (jj < ny)
        ii, jj = np.broadcast_arrays(ii, jj)
        np.add.at(image, (jj[inside], ii[inside]), values[inside])


# --- galaxy ---------------------------------------------------------------------------------------


def exponential_disk(east, north, central, scale, axis_ratio, pa_deg):
    """Inclined exponential disk surface brightness (ADU/pixel) at sky offsets (arcsec).

    ``central * exp(-r / scale)`` with the elliptical radius
    ``r = sqrt(a**2 + (b / axis_ratio)**2)``, ``a`` along the major axis at position angle
    ``pa_deg`` (degrees, north through east) and ``b`` across it; ``scale`` in arcsec,
    ``axis_ratio`` = b/a = cos(inclination) for a thin disk.
    """
    pa = np.radians(pa_deg)
    a = east * np.sin(pa) + north * np.cos(pa)
    b = east * np.cos(pa) - north * np.sin(pa)
    return central * np.exp(-np.hypot(a, b / axis_ratio) / scale)


def convolve_moffat(image, fwhm, beta):
    """Convolve ``image`` with a unit-sum Moffat PSF by FFT (circular: pad the image yourself)."""
    ny, nx = image.shape
    dy = np.fft.fftfreq(ny, 1 / ny)[:, None]
    dx = np.fft.fftfreq(nx, 1 / nx)[None, :]
    kernel = moffat_value(dx**2 + dy**2, 1.0, fwhm, beta)
    kernel /= kernel.sum()
    return np.fft.irfft2(np.fft.rfft2(image) * np.fft.rfft2(kernel), s=image.shape)


def add_galaxy(image, x0, y0, cd_arcsec, disk, fwhm, beta, halfsize):
    """Add a PSF-convolved exponential disk centred at pixel ``(x0, y0)`` to ``image`` in place.

    ``cd_arcsec`` is the FITS CD matrix in arcsec/px: it maps pixel offsets to tangent-plane
    offsets (east, north), so with RA increasing to the left its [0][0] element is negative.
    ``disk`` holds the keyword arguments of :func:`exponential_disk` other than the offsets
    (``central`` in ADU/pixel, ``scale`` in arcsec). The disk is sampled at pixel centres on a
    square stamp of half size ``halfsize`` (px), padded by the PSF size, convolved, and its
    in-frame part added; the stamp may lie partly or wholly outside the frame.
    """
    ny, nx = image.shape
    ci, cj = int(np.rint(x0)), int(np.rint(y0))
    half = halfsize + int(np.ceil(8 * fwhm))
    offsets = np.arange(-half, half + 1)
    dx = (ci + offsets - x0)[None, :]
    dy = (cj + offsets - y0)[:, None]
    east = cd_arcsec[0][0] * dx + cd_arcsec[0][1] * dy
    north = cd_arcsec[1][0] * dx + cd_arcsec[1][1] * dy
    stamp = convolve_moffat(exponential_disk(east, north, **disk), fwhm, beta)
    i0, j0 = ci - half, cj - half
    xs = slice(max(i0, 0), min(i0 + 2 * half + 1, nx))
    ys = slice(max(j0, 0), min(j0 + 2 * half + 1, ny))
    if xs.start < xs.stop and ys.start < ys.stop:
        image[ys, xs] += stamp[ys.start - j0 : ys.stop - j0, xs.start - i0 : xs.stop - i0]


# --- camera ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CmosModel:
    """How a CMOS camera's per-pixel properties are distributed (see :func:`cmos_camera`).

    egain: e-/ADU; bias_level: ADU; read_noise: median of the lognormal core (e-) and
    read_spread the standard deviation of its logarithm; telegraph: the fraction of
    random-telegraph pixels, whose read noise is telegraph_range (uniform) times the median;
    dark_current: e-/s of normal pixels; hot: the fraction of hot pixels, whose dark current is
    lognormal around hot_current (e-/s, log spread 0.5); bias_columns, bias_pixels: rms (ADU) of
    the bias's fixed column and pixel patterns.
    """

    egain: float
    bias_level: float
    read_noise: float
    read_spread: float = 0.25
    telegraph: float = 0.01
    telegraph_range: tuple[float, float] = (3.0, 5.0)
    dark_current: float = 0.0008
    hot: float = 0.005
    hot_current: float = 0.5
    bias_columns: float = 1.0
    bias_pixels: float = 1.0


def cmos_camera(model: CmosModel, shape, rng) -> Camera:
    """A camera drawn from ``model``: float32 maps of ``shape`` (ny, nx)."""
    ny, nx = shape
    bias = model.bias_level + model.bias_columns * rng.standard_normal((1, nx))
    bias = bias + model.bias_pixels * rng.standard_normal(shape)
    read = model.read_noise * np.exp(model.read_spread * rng.standard_normal(shape))
    telegraph = rng.random(shape) < model.telegraph
    read[telegraph] = model.read_noise * rng.uniform(*model.telegraph_range, telegraph.sum())
    dark = np.full(shape, model.dark_current)
    hot = rng.random(shape) < model.hot
    dark[hot] = model.hot_current * np.exp(0.5 * rng.standard_normal(hot.sum()))
    maps = (np.asarray(m, dtype=np.float32) for m in (bias, read, dark))
    return Camera(model.egain, *maps)


# --- exposure, masters, calibration ---------------------------------------------------------------


def exposure(electrons, camera: Camera, exptime, rng, nsub=1):
    """Raw frame (ADU, float64): the mean of ``nsub`` exposures of ``exptime`` s collecting
    ``electrons`` (e- per pixel per exposure, array or scalar) of light.

    ``bias + (Poisson(nsub * (electrons + D t)) / nsub + r / sqrt(nsub) * N(0, 1)) / egain`` with
    the camera's per-pixel bias, dark current D and read noise r: the sum of ``nsub`` Poisson
    draws is one Poisson draw of ``nsub`` times the mean, so this is exact for an aligned mean
    stack (``nsub = 1``: a single exposure).
    """
    mean = np.asarray(electrons, dtype=float) + camera.dark_current * exptime
    raw = rng.poisson(np.broadcast_to(nsub * mean, camera.bias.shape)).astype(float)
    noise = rng.standard_normal(camera.bias.shape, dtype=np.float32)
    noise *= camera.read_noise
    raw += np.sqrt(nsub) * noise
    raw /= nsub * camera.egain
    raw += camera.bias
    return raw


def quantise(raw):
    """A raw frame as the camera writes it: rounded to whole ADU, as uint16 (clipped to 0-65535).

    Rounding adds a variance of 1/12 ADU^2 (:data:`QUANTISATION`)."""
    return np.clip(np.rint(raw), 0, 65535).astype(np.uint16)


QUANTISATION = 1 / 12
"""Variance (ADU^2) that rounding to whole ADU adds to a frame."""


def expose(model, flat, camera: Camera, exptime, nsub, rng):
    """Raw science frame (ADU, float64) of ``model`` (cal. ADU) through the true ``flat``: an
    :func:`exposure` collecting ``flat * model * egain`` electrons, the mean of ``nsub``.

    ADC quantisation is not simulated for science frames (< 1e-4 of the sky variance here).
    """
    electrons = flat * model
    electrons *= camera.egain
    return exposure(electrons, camera, exptime, rng, nsub)


def master_bias(camera: Camera, ncombine, rng):
    """A hand-made master bias (ADU, float32): the mean of ``ncombine`` unrounded bias frames,
    ``bias + (read_noise / egain) / sqrt(ncombine) * N(0, 1)`` per pixel."""
    sigma = camera.read_noise / np.float32(camera.egain * np.sqrt(ncombine))
    return camera.bias + sigma * rng.standard_normal(camera.bias.shape, dtype=np.float32)


def master_flat_error(flat, ncombine, counts):
    """1-sigma error (dimensionless, like the flat) of a master flat made by :func:`master_flat`.

    ``sqrt(flat / (ncombine * counts))``: the shot noise of ``ncombine * counts * flat`` electrons
    relative to the ``ncombine * counts`` electrons of the normalising level, with ``flat`` the
    true flat (median 1) and ``counts`` in e- per pixel per flat frame.
    """
    return np.sqrt(flat / (ncombine * counts))


def master_flat(flat, ncombine, counts, rng):
    """A hand-made master flat (dimensionless): ``flat + sqrt(flat / (ncombine * counts)) N(0, 1)``.

    The mean of ``ncombine`` flats of ``counts`` e- per pixel (at flat = 1), normalised by that
    level: the shot noise of ``ncombine * counts * flat`` electrons; read noise and the bias and
    dark noise of these high-count frames are ignored. The error per pixel is
    :func:`master_flat_error`.
    """
    sigma = master_flat_error(flat, ncombine, counts)
    return flat + sigma * rng.standard_normal(flat.shape, dtype=np.float32)


def calibrate(raw, bias, dark, dark_exptime, flat, exptime):
    """Calibrated frame (ADU): ``(raw - bias - dark * exptime / dark_exptime) / flat``."""
    calibrated = raw - bias
    calibrated -= dark * (exptime / dark_exptime)
    calibrated /= flat
    return calibrated


def saturate(image, model, level):
    """Clip at the saturation ``level`` (ADU) as the camera does.

    A pixel reads ``level`` if its noisy value reaches it, or if its expected value ``model``
    does (the full well caps the charge, so no noise brings such a pixel back below ``level``).
    """
    clipped = np.minimum(image, level)
    clipped[model >= level] = level
    return clipped


# --- noise ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """How a master was made: ``n`` frames combined with the variance factor ``factor`` (the
    variance of the combination over that of the mean of as many frames: 1 for a mean, see
    :func:`skyrms.science.combine.variance_factor`), from raw frames rounded to whole ADU
    (``quantised``) or not."""

    n: int
    factor: float = 1.0
    quantised: bool = False

    def variance(self, electrons2, egain):
        """Variance (e-^2) of the combined value of frames whose pixels vary by
        ``electrons2`` (e-^2) each."""
        rounding = QUANTISATION * egain**2 if self.quantised else 0.0
        return self.factor * (electrons2 + rounding) / self.n


def flat_relative_variance(flat, counts, combination: Combination, electrons2=0.0, egain=1.0):
    """Relative variance (dimensionless) per pixel of a master flat combined from flat frames of
    ``counts`` e- per pixel at flat 1, each normalised by its own level: the shot noise of
    ``counts * flat`` electrons plus ``electrons2`` (e-^2: read noise and dark of the frames),
    over ``(counts * flat)**2``. The noise of the bias and dark subtracted from the frames
    (relatively ~1e-8) is left out."""
    signal = counts * np.asarray(flat, dtype=float)
    return combination.variance(signal + electrons2, egain) / signal**2


def calibrated_sigma(sky, flat, exptime, camera: Camera, nsub, bias: Combination,
                     dark: Combination, dark_exptime, flat_variance):  # fmt: skip
    """Noise std (ADU) of a sky-only pixel of the calibrated frame, per pixel.

    With S the sky (cal. ADU), F the true flat, t the exposure time (s), g the egain (e-/ADU),
    the camera's per-pixel dark current D (e-/s) and read noise r (e-), k = t / t_dark, ``nsub``
    exposures averaged in the science frame, the master ``bias`` and ``dark`` as they were
    combined (:meth:`Combination.variance`, which adds the rounding of their raw frames) and
    ``flat_variance`` the master flat's relative variance (:func:`flat_relative_variance`), for a
    master dark bias-subtracted with the same master bias B that calibrates the frame (so that
    the frame is ``(raw - (1 - k) B - k Dmean) / master_flat``):

        sigma**2 = [ (F S g + D t + r**2) / nsub              raw frame: sky + dark shot, read
                     + (1 - k)**2 Var_B(r**2)                 master bias (cancels for k = 1)
                     + k**2 Var_D(D t_dark + r**2)            raw darks combined (scaled by k)
                   ] / (g F)**2
                   + S**2 flat_variance                        master flat

    in ADU^2. The raw-frame term is exact, the bias and dark terms exact for Gaussian pixels
    (their variance factors assume it; hot pixels are nearly so), the flat term first order in
    the flat's error (relative ~1e-4).
    """
    g = camera.egain
    r2 = np.square(camera.read_noise, dtype=np.float64)
    current = np.asarray(camera.dark_current, dtype=np.float64)
    k = exptime / dark_exptime
    electrons2 = (
        (flat * sky * g + current * exptime + r2) / nsub
        + (1 - k) ** 2 * bias.variance(r2, g)
        + k**2 * dark.variance(current * dark_exptime + r2, g)
    )
    return np.sqrt(electrons2 / (g * flat) ** 2 + sky**2 * flat_variance)
