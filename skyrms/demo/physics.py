"""Physics of simulated survey frames: sky, stars, galaxy, exposure, masters and calibration.

Everything here is a pure function of numpy arrays (plus a ``numpy.random.Generator`` where noise
is drawn); nothing touches files. Units used throughout:

* images of the sky (sky, stars, galaxy, their sum the *model*) are in **calibrated ADU**: the value
  a perfectly bias-, dark- and flat-corrected frame reads on average;
* detector quantities are in electrons (e-): read noise (e- rms per read), dark current
  (e-/s/pixel), flat-field counts (e- per pixel per flat frame);
* ``egain`` converts them: ADU = e- / egain (egain in e-/ADU);
* pixel coordinates are 0-based with the centre of pixel ``image[j, i]`` at ``(x, y) = (i, j)``
  (numpy/SEP convention); ``shape`` is ``(ny, nx)``.

The generating process of one calibrated frame, with F the true flat (mean 1), M the model, t the
exposure time, g the egain, b the bias level, D the dark current, r the read noise and ``nsub``
sub-exposures averaged into the frame:

    raw (ADU)  = b + [Poisson(nsub (F M g + D t)) / nsub + r / sqrt(nsub) N(0, 1)] / g
    calibrated = (raw - master_bias - master_dark t / t_dark) / master_flat

and the masters are made as described in :func:`master_bias`, :func:`master_dark` and
:func:`master_flat`. The master dark is bias-subtracted with the same master bias that calibrates
the frame, so with k = t / t_dark and Dmean the mean of the raw dark frames,
``calibrated = (raw - (1 - k) master_bias - k Dmean) / master_flat``: the bias noise enters with
weight (1 - k) and cancels for k = 1. :func:`calibrated_sigma` gives the noise this process
implies.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detector:
    """Camera constants.

    egain: electrons per ADU (e-/ADU); read_noise: e- rms per read; dark_current: e-/s/pixel.
    """

    egain: float
    read_noise: float
    dark_current: float


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
    """True flat (dimensionless, mean exactly 1): vignetting times ``1 + prnu * N(0, 1)`` per pixel.

    ``prnu`` is the rms pixel-to-pixel response variation (e.g. 0.015 = 1.5 %).
    """
    response = 1 + prnu * rng.standard_normal(shape)
    flat = vignetting(shape, depth, centre) * response
    return flat / flat.mean()


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


# --- exposure, masters, calibration ---------------------------------------------------------------


def expose(model, flat, bias_level, exptime, detector, nsub, rng):
    """Raw frame in ADU: the mean of ``nsub`` exposures of ``exptime`` s of ``model`` (cal. ADU).

    Expected electrons per pixel per exposure: ``flat * model * egain + dark_current * exptime``.
    The sum of ``nsub`` Poisson draws is one Poisson draw of ``nsub`` times the mean, so
    ``raw = bias_level + (Poisson(nsub * e) / nsub + read_noise / sqrt(nsub) * N(0, 1)) / egain``
    is exact for an aligned mean stack (``nsub = 1``: a single exposure). ADC quantisation
    (variance 1/12 ADU^2, < 1e-4 of the sky variance here) is not simulated.
    """
    electrons = flat * model
    electrons *= nsub * detector.egain
    electrons += nsub * detector.dark_current * exptime
    raw = rng.poisson(electrons).astype(float)
    raw += np.sqrt(nsub) * detector.read_noise * rng.standard_normal(model.shape, dtype=np.float32)
    raw /= nsub * detector.egain
    raw += bias_level
    return raw


def master_bias(shape, bias_level, detector, ncombine, rng):
    """Master bias in ADU: ``bias_level + (read_noise / egain) / sqrt(ncombine) * N(0, 1)``.

    The mean of ``ncombine`` zero-second frames; only their read noise is simulated.
    """
    sigma = detector.read_noise / detector.egain / np.sqrt(ncombine)
    return bias_level + sigma * rng.standard_normal(shape, dtype=np.float32)


def master_dark(bias, bias_level, exptime, detector, ncombine, rng):
    """Master dark in ADU for ``exptime`` s: mean of ``ncombine`` raw darks minus ``bias``.

    ``bias`` (ADU, the shape of the frame) is the master bias the dark is corrected with (in the
    survey: that of the same unit and night, the very array that also calibrates that night's
    science frames). Each raw dark frame reads ``bias_level`` (ADU) plus the dark signal
    ``dark_current * exptime`` e- (Poisson) plus read noise, so their mean is

        Dmean = bias_level + (Poisson(ncombine D t) / ncombine + r / sqrt(ncombine) N(0, 1)) / g

    with mean ``bias_level + D t / g`` (ADU) and variance ``(D t + r**2) / (ncombine g**2)``
    (ADU^2), and the master dark is ``Dmean - bias``: mean ``D t / g`` ADU, variance
    ``(D t + r**2) / (ncombine g**2) + Var(bias)``, its noise anti-correlated with ``bias``
    (covariance ``-Var(bias)``). Computed in float64; hot pixels and amplifier glow are ignored.
    """
    bias = np.asarray(bias, dtype=np.float64)
    dark = rng.poisson(ncombine * detector.dark_current * exptime, size=bias.shape).astype(float)
    dark += np.sqrt(ncombine) * detector.read_noise * rng.standard_normal(bias.shape, np.float32)
    dark /= ncombine * detector.egain
    dark += bias_level
    dark -= bias
    return dark


def master_flat_error(flat, ncombine, counts):
    """1-sigma error (dimensionless, like the flat) of a master flat made by :func:`master_flat`.

    ``sqrt(flat / (ncombine * counts))``: the shot noise of ``ncombine * counts * flat`` electrons
    relative to the ``ncombine * counts`` electrons of the normalising level, with ``flat`` the
    true flat (mean 1) and ``counts`` in e- per pixel per flat frame.
    """
    return np.sqrt(flat / (ncombine * counts))


def master_flat(flat, ncombine, counts, rng):
    """Master flat (dimensionless): ``flat + sqrt(flat / (ncombine * counts)) * N(0, 1)``.

    The mean of ``ncombine`` flats of ``counts`` e- per pixel (at flat = 1), normalised by that
    level: the shot noise of ``ncombine * counts * flat`` electrons; read noise and the bias and
    dark noise of these high-count frames are negligible and ignored. The error per pixel is
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


def calibrated_sigma(
    sky, flat, exptime, detector, nsub, nbias, ndark, dark_exptime, nflat, flat_counts
):
    """Noise std (ADU) of a sky-only pixel of the calibrated frame, per pixel.

    With S the sky (cal. ADU), F the true flat, t the exposure time (s), g the egain (e-/ADU),
    D the dark current (e-/s), r the read noise (e-), k = t / t_dark, the numbers of frames
    ``nsub`` (science stack), ``nbias``, ``ndark``, ``nflat`` and Q the flat counts (e-), for a
    master dark bias-subtracted with the same master bias B that calibrates the frame (see
    :func:`master_dark`), so that the frame is ``(raw - (1 - k) B - k Dmean) / master_flat``:

        sigma**2 = [ (F S g + D t + r**2) / nsub        raw frame: sky + dark shot, read noise
                     + (1 - k)**2 r**2 / nbias           master bias (cancels for k = 1)
                     + k**2 (D t_dark + r**2) / ndark    raw darks averaged (scaled by k)
                   ] / (g F)**2
                   + S**2 / (nflat Q F)                  master flat (relative var 1/(nflat Q F))

    in ADU^2. The raw-frame, bias and dark terms are exact; the flat term is the first-order
    (delta-method) term of the ratio, exact to a relative ~3 / (nflat Q), i.e. ~1e-5.
    """
    g, r2, dark = detector.egain, detector.read_noise**2, detector.dark_current
    k = exptime / dark_exptime
    electrons2 = (
        (flat * sky * g + dark * exptime + r2) / nsub
        + (1 - k) ** 2 * r2 / nbias
        + k**2 * (dark * dark_exptime + r2) / ndark
    )
    return np.sqrt(electrons2 / (g * flat) ** 2 + sky**2 / (nflat * flat_counts * flat))
