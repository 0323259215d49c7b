"""Frames whose true sky, noise and signal are known, and how close a method's maps come to them.

The truth suite of the background steps (tests/test_truth_suite.py) and the peer table
(``python -m benchmarks.peer_table``) use the same frames and the same figures. They are test
and benchmark material, not part of the product, so they live outside the ``skyrms`` package.

Every frame is ``SHAPE`` pixels (a frame of ``SHAPES``: its own shape) of float32 ADU: a smooth
sky (``sky``, ADU), sources (``signal``, ADU, noiseless) and Gaussian noise of ``SKY_SIGMA`` ADU
plus the shot noise of the sources (gain 1 e-/ADU), so the true background noise is ``SKY_SIGMA``
wherever the signal is faint. Pixels are 0-based with the centre of ``image[j, i]`` at
``(x, y) = (i, j)``.

=================  ==============================================================================
name               what it holds
=================  ==============================================================================
``sparse``         300 stars on a sky gradient of -3.8 to +3.8 sigma with curvature
``crowded``        20,000 stars with peaks of 3 sigma (the detection limit) and more, on a flat sky
``halo``           three faint galaxies and a saturated star whose halo stays above 0.1 sigma
                   out to r = 316 px, on the gradient of ``sparse``
``empty``          noise on a flat sky
``faint``          four Sersic galaxies (n = 1-4, r_e = 50-250 px), wings of 0.1-1 sigma, and
                   200 stars on a flat sky
``nan``            ``sparse`` with NaN regions: a block, rows, a column band and a disk
``zeros``          ``sparse`` with its first 200 columns and last 100 rows exactly 0
``big_galaxy``     a spiral galaxy whose light above 0.1 sigma covers about 75% of the frame
``emission``       diffuse emission everywhere (clumpy, 1-10 sigma) with 1,000 stars
``wings``          four bright Sersic galaxies (n = 1-4, r_e = 50-170 px, 3-12 sigma at r_e)
                   whose wings stay above 0.1 sigma out to 3-7 r_e (350-580 px), 200 stars and
                   the saturated halo star of ``halo`` on a flat sky; light above 0.1 sigma over
                   63% of the frame
``filled``         512x512 with integer pixel values (an int16 camera's): the spiral of
                   ``big_galaxy`` with light above 0.1 sigma over 79% of the frame, empty only
                   in the corners, and 20 stars on a flat sky
=================  ==============================================================================
"""

from dataclasses import dataclass

import numpy as np

from skyrms.demo.physics import add_moffat_stars, moffat_halfsize, moffat_value

SHAPE = (2048, 2048)
"""(ny, nx) of every frame but those of SHAPES, pixels."""
SHAPES = {"filled": (512, 512)}
"""(ny, nx) of the frames whose own size is not SHAPE, pixels."""
SKY_LEVEL = 1000.0
"""Mean sky, ADU."""
SKY_SIGMA = 10.0
"""Noise of the sky, ADU: the true background RMS."""
SATURATE = 60000.0
"""Saturation level, ADU (the SATURATE keyword)."""
FWHM, BETA = 3.0, 3.0
"""Moffat PSF of the stars: full width at half maximum (px) and beta."""
GRADIENT = 3.8
"""Half the sky's range across the gradient frames, in SKY_SIGMA."""

NAMES = (
    "sparse",
    "crowded",
    "halo",
    "empty",
    "faint",
    "nan",
    "zeros",
    "big_galaxy",
    "emission",
    "wings",
    "filled",
)
"""The frames; a frame's place here seeds its noise, so new frames go at the end."""


@dataclass
class TruthFrame:
    """One simulated frame: ``data`` (float32, ADU; NaN and zero regions included), the true
    ``sky`` and noiseless ``signal`` (float32, ADU), and ``valid``, False where the frame's
    pixels carry no measurement (NaN or blank regions)."""

    name: str
    data: np.ndarray
    sky: np.ndarray
    signal: np.ndarray
    valid: np.ndarray

    @property
    def header(self) -> dict:
        """The header cards a survey frame would carry for these pixels."""
        return {"OBJECT": self.name, "SATURATE": SATURATE, "EXPTIME": 100.0, "BUNIT": "adu"}


def grid(shape=SHAPE):
    """Pixel coordinates ``(x, y)`` as broadcastable float arrays."""
    y, x = np.ogrid[: shape[0], : shape[1]]
    return x.astype(float), y.astype(float)


def gradient_sky(shape=SHAPE) -> np.ndarray:
    """Sky (ADU) rising by 2 x GRADIENT sigma along the diagonal, with a gentle bowl."""
    x, y = grid(shape)
    u, v = x / shape[1] - 0.5, y / shape[0] - 0.5
    tilt = (u + v) * GRADIENT * SKY_SIGMA
    bowl = (u**2 + v**2 - 1 / 6) * 1.5 * SKY_SIGMA
    return SKY_LEVEL + tilt + bowl


def flat_sky(shape=SHAPE) -> np.ndarray:
    """A constant sky of SKY_LEVEL ADU."""
    return np.full(shape, SKY_LEVEL)


def stars(signal: np.ndarray, count: int, rng, brightest=3e6, faintest_peak=1.0) -> None:
    """Add ``count`` Moffat stars with N(>F) ~ F^-0.75 from a peak of ``faintest_peak`` sigma up
    to ``brightest`` total flux (ADU) at random places to ``signal`` in place."""
    ny, nx = signal.shape
    x = rng.uniform(0, nx - 1, count)
    y = rng.uniform(0, ny - 1, count)
    faintest = faintest_peak * SKY_SIGMA / moffat_value(0.0, 1.0, FWHM, BETA)
    flux = np.minimum(faintest * rng.uniform(size=count) ** (-1 / 0.75), brightest)
    halfsize = moffat_halfsize(flux, FWHM, BETA, 0.01 * SKY_SIGMA, 150)
    add_moffat_stars(signal, x, y, flux, halfsize, FWHM, BETA)


def sersic(shape, x0, y0, n, r_e, i_e, axis_ratio, angle_deg) -> np.ndarray:
    """A Sersic profile (ADU/pixel): ``i_e exp(-b_n ((r / r_e)^(1/n) - 1))`` with elliptical
    radius ``r`` (px, along the major axis at ``angle_deg`` from +x) and ``b_n`` from Ciotti &
    Bertin's expansion; ``i_e`` is the surface brightness at the effective radius ``r_e``."""
    x, y = grid(shape)
    angle = np.radians(angle_deg)
    along = (x - x0) * np.cos(angle) + (y - y0) * np.sin(angle)
    across = -(x - x0) * np.sin(angle) + (y - y0) * np.cos(angle)
    radius = np.hypot(along, across / axis_ratio)
    b_n = 2 * n - 1 / 3 + 4 / (405 * n) + 46 / (25515 * n**2)
    return i_e * np.exp(-b_n * ((radius / r_e) ** (1 / n) - 1))


FAINT_GALAXIES = (
    # x0, y0, n, r_e (px), i_e (sigma), axis ratio, angle (deg)
    (520, 520, 4, 50, 1.0, 0.8, 20),
    (1500, 560, 3, 100, 0.8, 0.6, 110),
    (560, 1480, 2, 150, 0.6, 0.7, 60),
    (1460, 1450, 1, 250, 0.3, 0.85, 150),
)


WING_GALAXIES = (
    # x0, y0, n, r_e (px), i_e (sigma), axis ratio, angle (deg)
    (512, 512, 4, 50, 12.0, 0.8, 135),
    (1536, 512, 3, 90, 9.0, 0.7, 45),
    (512, 1536, 2, 130, 6.0, 0.6, 45),
    (1536, 1536, 1, 170, 3.0, 0.5, 135),
)
"""The bright galaxies of ``wings``: n = 4 to 1 with r_e, i_e and the axis ratio in even steps
(50-170 px, 12-3 sigma, 0.8-0.5), the most concentrated the smallest, brightest and roundest as
ellipticals are. Each sits in its quarter of the frame with its major axis across the line to the
centre (which is the halo star's) and stays above 0.1 sigma out to 6.96, 5.77, 4.47 and 3.03 r_e
(348, 519, 582 and 515 px along the major axis), inside the frame; 1-2% of each galaxy's light,
at under 0.1 sigma, falls outside. The largest r_e is what the n = 1 disk can have and keep its
0.1 sigma isophote in its quarter: at r_e = 300 px it would reach 909 px."""


def galaxies(signal: np.ndarray, which=FAINT_GALAXIES) -> None:
    """Add Sersic galaxies (by default the faint ones) to ``signal`` in place."""
    for x0, y0, n, r_e, i_e, q, angle in which:
        signal += sersic(signal.shape, x0, y0, n, r_e, i_e * SKY_SIGMA, q, angle)


def halo_star(signal: np.ndarray, x0=1024.0, y0=1024.0) -> None:
    """A saturated star: a Moffat core of 2e7 ADU and a scattered-light halo
    ``A (1 + (r / 10)^2)^-1.5`` that is 0.1 sigma at r = 316 px (ADU)."""
    x, y = grid(signal.shape)
    r2 = (x - x0) ** 2 + (y - y0) ** 2
    signal += moffat_value(r2, 2e7, FWHM, BETA)
    level = 0.1 * SKY_SIGMA / (1 + 316.0**2 / 100) ** -1.5
    signal += level * (1 + r2 / 100) ** -1.5


def spiral(shape=SHAPE, rng=None) -> np.ndarray:
    """A spiral filling the frame (ADU): an exponential disk of central 3000 sigma and scale
    0.054 x the frame width (110 px at 2048), so that its light stays above 0.1 sigma over about
    75% of the frame, two logarithmic arms (+-50%) and 300 knots of star formation."""
    x, y = grid(shape)
    x0, y0, q, angle = shape[1] / 2 - 20, shape[0] / 2 + 15, 0.85, np.radians(30)
    scale = 0.054 * shape[1]
    along = (x - x0) * np.cos(angle) + (y - y0) * np.sin(angle)
    across = (-(x - x0) * np.sin(angle) + (y - y0) * np.cos(angle)) / q
    radius = np.hypot(along, across)
    phase = np.arctan2(across, along)
    arms = 1 + 0.5 * np.cos(2 * phase - 3.0 * np.log1p(radius / (scale / 3)))
    disk = 3000 * SKY_SIGMA * np.exp(-radius / scale) * arms
    r_knot = scale * rng.gamma(3.0, 1.0, 300)
    p_knot = rng.uniform(0, 2 * np.pi, 300)
    kx = x0 + r_knot * (np.cos(p_knot) * np.cos(angle) - q * np.sin(p_knot) * np.sin(angle))
    ky = y0 + r_knot * (np.cos(p_knot) * np.sin(angle) + q * np.sin(p_knot) * np.cos(angle))
    flux = 3000 * SKY_SIGMA * np.exp(-r_knot / scale) * rng.uniform(20, 200, 300)
    add_moffat_stars(disk, kx, ky, flux, np.full(300, 25), 2.5 * FWHM, BETA)
    return disk


def emission(shape=SHAPE, rng=None) -> np.ndarray:
    """Diffuse clumpy emission everywhere (ADU): exp of a Gaussian random field with power at
    scales of 30-500 px, about 1 to 10 sigma, with filaments where the field is steep."""
    ny, nx = shape
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(kx, ky)
    power = np.where(k > 0, (k + 1 / 500) ** -3.0, 0.0) * np.exp(-((k * 30) ** 2))
    noise = rng.standard_normal((ny, nx // 2 + 1)) + 1j * rng.standard_normal((ny, nx // 2 + 1))
    field = np.fft.irfft2(noise * np.sqrt(power), s=shape)
    field /= field.std()
    return 3 * SKY_SIGMA * np.exp(0.7 * field)


def observe(name, sky, signal, rng) -> TruthFrame:
    """Add noise and saturate: the frame a camera would read."""
    noise = rng.standard_normal(sky.shape) * np.sqrt(SKY_SIGMA**2 + np.maximum(signal, 0))
    data = np.minimum(sky + signal + noise, SATURATE).astype(np.float32)
    data[sky + signal >= SATURATE] = SATURATE
    return TruthFrame(
        name, data, sky.astype(np.float32), signal.astype(np.float32), np.ones(sky.shape, bool)
    )


def make(name: str, seed: int = 1, shape=None) -> TruthFrame:
    """The frame ``name`` (one of NAMES), the same for the same seed; ``shape`` (ny, nx) is its
    own (SHAPES, else SHAPE) unless given."""
    shape = tuple(shape) if shape is not None else SHAPES.get(name, SHAPE)
    rng = np.random.default_rng([seed, NAMES.index(name)])
    signal = np.zeros(shape)
    sky = flat_sky(shape)
    if name in ("sparse", "nan", "zeros", "halo"):
        sky = gradient_sky(shape)
    if name in ("sparse", "nan", "zeros"):
        stars(signal, 300, rng)
    elif name == "crowded":
        stars(signal, 20_000, rng, brightest=1e6, faintest_peak=3.0)
    elif name == "halo":
        stars(signal, 300, rng)
        galaxies(signal, FAINT_GALAXIES[:3])
        halo_star(signal)
    elif name == "faint":
        stars(signal, 200, rng)
        galaxies(signal)
    elif name == "big_galaxy":
        signal += spiral(shape, rng)
        stars(signal, 300, rng)
    elif name == "emission":
        signal += emission(shape, rng)
        stars(signal, 1000, rng)
    elif name == "wings":
        stars(signal, 200, rng)
        galaxies(signal, WING_GALAXIES)
        halo_star(signal)
    elif name == "filled":
        signal += spiral(shape, rng)
        stars(signal, 20, rng)  # big_galaxy's 300 per 2048x2048
    frame = observe(name, sky, signal, rng)
    if name == "filled":
        quantize(frame)
    if name == "nan":
        blank(frame, np.nan)
    elif name == "zeros":
        frame.valid[:, :200] = frame.valid[-100:, :] = False
        frame.data[~frame.valid] = 0.0
    return frame


def quantize(frame: TruthFrame) -> None:
    """Round ``frame.data`` to whole ADU in place, as a camera writing 16-bit integers does.

    The values stay float32. Rounding adds noise of 1/sqrt(12) ADU, so the frame's true noise is
    sqrt(SKY_SIGMA^2 + 1/12) = 1.0004 SKY_SIGMA, which the figures neglect. With SKY_SIGMA = 10
    ADU that is small but present. A smaller sigma would make it matter to the RMS only: on
    512x512 noise frames at sigma 10, 2.5 and 1.5 ADU, rounded or not, skyrms's background
    stayed within 0.01 sigma of the truth and its RMS followed the rounded noise (1.008 and 1.019
    sigma measured at 2.5 and 1.5 ADU for 1.007 and 1.018), so ``filled`` keeps SKY_SIGMA like
    every other frame and its figures stay comparable."""
    np.rint(frame.data, out=frame.data)


def blank(frame: TruthFrame, value: float) -> None:
    """Blank a block, three rows, a column band and a disk of ``frame`` with ``value``
    (placed in fractions of the frame: at 2048x2048 a 300x300 block, rows 900, 901 and
    1700, a 50-column band and a disk of radius 100 px)."""
    ny, nx = frame.data.shape
    x, y = grid((ny, nx))

    def at(fraction, n):
        return int(fraction * n / 2048)

    frame.valid[at(300, ny) : at(600, ny), at(1200, nx) : at(1500, nx)] = False
    frame.valid[[at(900, ny), at(900, ny) + 1, at(1700, ny)], :] = False
    frame.valid[:, at(1800, nx) : at(1850, nx)] = False
    frame.valid &= (x - at(600, nx)) ** 2 + (y - at(1400, ny)) ** 2 > at(100, nx) ** 2
    frame.data[~frame.valid] = value


# --- figures --------------------------------------------------------------------------------------

FAINT = 0.1
"""Pixels whose true signal is below FAINT x SKY_SIGMA are source-free for the figures."""


def figures(truth: TruthFrame, background, rms, mask=None) -> dict:
    """How close a method's maps come to the truth (every figure a plain float; NaN if none).

    ``background`` and ``rms`` are the method's maps (ADU), ``mask`` its boolean mask of
    sources (True = masked) or None. Figures, over valid pixels:

    * ``z_median``, ``z_p99``: median and 99th percentile of ``|z|``, ``z = (background - sky) /
      SKY_SIGMA``, over source-free pixels;
    * ``rms_ratio``: median of ``rms / SKY_SIGMA`` over source-free pixels;
    * ``noise_ratio``: median of ``rms`` over the true noise of each pixel,
      ``sqrt(SKY_SIGMA^2 + signal)`` (gain 1), over the pixels the mask leaves (all without
      one): where light fills the frame, whether the RMS is its noise;
    * ``wing_share``: the share of the light of pixels with 0.1 <= signal / sigma < 1 (the wing
      pixels) that the background took in, ``sum(background - sky) / sum(signal)`` over them;
    * ``wing_median_share``: the median over the wing pixels of ``(background - sky) / signal``,
      the share a typical wing pixel lost (``wing_share`` weighs the brighter ones more);
    * ``masked``: the fraction of valid pixels masked;
    * ``empty_offset``: median of ``(data - background) / SKY_SIGMA`` over source-free pixels;
    * ``bad_rms``: pixels where the RMS is not finite or <= 0, ``bad_background``: pixels where
      the background is not finite (both over valid pixels).
    """
    valid = truth.valid
    free = valid & (truth.signal < FAINT * SKY_SIGMA)
    wings = valid & (truth.signal >= FAINT * SKY_SIGMA) & (truth.signal < SKY_SIGMA)
    background = np.asarray(background, dtype=np.float64)
    rms = np.asarray(rms, dtype=np.float64)
    z = np.abs(background[free] - truth.sky[free]) / SKY_SIGMA
    rise = background[wings] - truth.sky[wings]
    left = valid & ~mask if mask is not None else valid
    absorbed = rise.sum()
    return {
        "z_median": median(z),
        "z_p99": float(np.percentile(z, 99)) if z.size else float("nan"),
        "rms_ratio": median(rms[free] / SKY_SIGMA),
        "noise_ratio": median(
            rms[left] / np.sqrt(SKY_SIGMA**2 + np.maximum(truth.signal[left], 0))
        ),
        "wing_share": float(absorbed / truth.signal[wings].sum()) if wings.any() else float("nan"),
        "wing_median_share": median(rise / truth.signal[wings]),
        "masked": float(np.mean(mask[valid])) if mask is not None else float("nan"),
        "empty_offset": median((truth.data[free] - background[free]) / SKY_SIGMA),
        "bad_rms": int(np.count_nonzero(~(rms[valid] > 0))),
        "bad_background": int(np.count_nonzero(~np.isfinite(background[valid]))),
    }


def median(values: np.ndarray) -> float:
    """The median of ``values``, NaN for none."""
    return float(np.median(values)) if values.size else float("nan")


WING_BINS = ((0.3, 0.5), (0.2, 0.3), (0.1, 0.2), (0.05, 0.1))
"""Bins of true signal (in SKY_SIGMA) of ``wing_profile``, from the inner wings outwards."""


def wing_profile(truth: TruthFrame, background, mask, bins=WING_BINS) -> list[dict]:
    """How far a method's mask and background follow the faint wings: a diagnostic, no target.

    Per bin ``(low, high)`` of true signal in SKY_SIGMA (``low <= signal / sigma < high``, valid
    pixels): ``pixels``, their number; ``masked``, the fraction of them ``mask`` (True = masked)
    holds; ``share``, the background's rise over the sky as a fraction of the signal there,
    ``sum(background - sky) / sum(signal)``, and ``median_share``, the median of
    ``(background - sky) / signal`` (NaN for an empty bin)."""
    background = np.asarray(background, dtype=np.float64)
    rows = []
    for low, high in bins:
        inside = truth.valid & (truth.signal >= low * SKY_SIGMA) & (truth.signal < high * SKY_SIGMA)
        signal = truth.signal[inside].astype(np.float64)
        rise = background[inside] - truth.sky[inside]
        rows.append(
            {
                "low": low,
                "high": high,
                "pixels": int(signal.size),
                "masked": float(np.mean(mask[inside])) if signal.size else float("nan"),
                "share": float(rise.sum() / signal.sum()) if signal.size else float("nan"),
                "median_share": median(rise / signal),
            }
        )
    return rows
