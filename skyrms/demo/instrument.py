"""The demo's instrument: the 7DT units' CMOS cameras and flat fields, fixed by a seed of their own.

Camera: C361K in HIGH mode, 1x1 binning, 0.505 arcsec/px; ``GAIN`` in headers is the camera
setting (2750), ``EGAIN`` the electrons per ADU. Every unit's camera has its own per-pixel bias
(a level per unit with fixed column and pixel patterns), read noise (lognormal around 6 e- with
1% random-telegraph pixels 3-5 times noisier) and dark current (0.0008 e-/s, 0.5% hot pixels
around 0.5 e-/s): :func:`camera`. Its flat field in each filter is vignetting around the unit's
optical axis times a pixel response of 1.5% rms, normalised to a median of 1: :func:`true_flat`.
Neither depends on the survey's seed, only on the frame shape.
"""

import functools
from datetime import datetime

import numpy as np

from skyrms.demo import physics
from skyrms.io import keywords as kw
from skyrms.io.header_values import mjd_of_datetime

OBSERVATORY = "7DT"
CAMERA = "C361K"
TELKEY = f"{OBSERVATORY}_{CAMERA}_HIGH_1x1"
UNITS = ("7DT02", "7DT05")
FILTERS = ("m600", "r")
GAIN_SETTING = 2750  # camera gain setting of the HIGH mode (header GAIN), not e-/ADU
EGAIN = 0.2561  # e-/ADU
READ_NOISE = 6.0  # e-, median over the pixels
DARK_CURRENT = 0.0008  # e-/s of a normal pixel
SATURATE = 60000.0  # ADU
BIAS_LEVEL = {"7DT02": 502.4, "7DT05": 497.1}  # ADU

_VIGNETTING = {"m600": 0.04, "r": 0.05}  # fractional light loss in the corners
_OPTICAL_AXIS = {"7DT02": (0.03, -0.02), "7DT05": (-0.04, 0.01)}  # offset / frame width
_PRNU = 0.015  # pixel-to-pixel response rms
FIXED = 20251120
"""RNG key of the fixed instrument and observing conditions."""


def cmos_model(unit: str) -> physics.CmosModel:
    """How the pixels of ``unit``'s camera are distributed."""
    return physics.CmosModel(
        egain=EGAIN, bias_level=BIAS_LEVEL[unit], read_noise=READ_NOISE, dark_current=DARK_CURRENT
    )


@functools.lru_cache(maxsize=2)
def camera(unit: str, shape: tuple[int, int]) -> physics.Camera:
    """The camera of ``unit`` at frame ``shape`` (ny, nx): read-only float32 maps of its bias
    (ADU), read noise (e-) and dark current (e-/s)."""
    rng = np.random.default_rng([FIXED, 3000 + UNITS.index(unit)])
    cam = physics.cmos_camera(cmos_model(unit), tuple(shape), rng)
    for pixels in (cam.bias, cam.read_noise, cam.dark_current):
        pixels.flags.writeable = False
    return cam


@functools.lru_cache(maxsize=2)
def true_flat(unit: str, filt: str, shape: tuple[int, int]) -> np.ndarray:
    """True flat (median 1, float64, read-only) of ``unit`` in ``filt``: vignetting times pixel
    response. The pixel response is the unit's, the same in every filter; the vignetting
    depends on both."""
    ny, nx = shape
    dx, dy = _OPTICAL_AXIS[unit]
    centre = ((nx - 1) / 2 + dx * nx, (ny - 1) / 2 + dy * nx)
    rng = np.random.default_rng([FIXED, 2000 + UNITS.index(unit)])
    flat = physics.flat_field(tuple(shape), _VIGNETTING[filt], centre, _PRNU, rng)
    flat.flags.writeable = False
    return flat


def camera_cards(unit: str) -> list:
    """Header cards naming the unit and its camera's settings."""
    return [
        kw.TELESCOP.card(unit, "7DT unit"),
        kw.INSTRUME.card(CAMERA, "camera"),
        kw.OBSERVAT.card(OBSERVATORY, "observatory"),
        kw.GAIN.card(GAIN_SETTING, "camera gain setting (HIGH mode)"),
        kw.EGAIN.card(EGAIN, "[e-/ADU] electrons per ADU"),
        ("XBINNING", 1, "binning"),
        ("YBINNING", 1, "binning"),
        kw.SATURATE.card(SATURATE, "[ADU] saturation level"),
    ]


def time_cards(date_obs: str) -> list:
    """DATE-OBS (ISO, UTC) and MJD-OBS cards."""
    mjd = mjd_of_datetime(datetime.fromisoformat(date_obs))
    return [kw.DATE_OBS.card(date_obs, "UTC start of exposure"), kw.MJD_OBS.card(round(mjd, 8), "")]
