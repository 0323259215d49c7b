"""The calibration branch in Python: a frame's nearest masters and its propagated RMS.

The functions call the steps ``skyrms run`` and the workflow's ``propagated_rms`` job call
(:mod:`skyrms.steps.one_frame`, :mod:`skyrms.steps.propagated_rms`): the masters are those
the workflow looks up, and the result, written, is the ``.masters.json`` and
``.proprms.fits`` of ``skyrms run`` with the same settings. Settings not given are the
configuration's ``calibration`` section (or that of ``settings``).
"""

import os
from collections.abc import Mapping
from types import MappingProxyType

from astropy.io import fits
from astropy.nddata import NDData

from skyrms.api.inputs import ARRAY_NAME, checked_fields, default_settings, with_given
from skyrms.api.masters import masters_record
from skyrms.api.results import BackgroundResult, MastersResult, PropagatedRMSResult
from skyrms.config import check_path
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import InputError, read_image
from skyrms.io.headerindex import indexed_fields
from skyrms.settings import CalibrationSection, Settings, max_days_by_type
from skyrms.steps import one_frame
from skyrms.steps.propagated_rms import propagated_product


def nearest_masters(
    frame, library, *, max_days: float | Mapping[str, float] | None = None,
    dark_exptime: str | None = None, settings: Settings | None = None,
) -> MastersResult:  # fmt: skip
    """The nearest master bias, dark and flat of a frame in a master library, as the
    workflow chooses them (:mod:`skyrms.plan.master_lookup`).

    Parameters
    ----------
    frame : the frame's FITS path; its folders in the survey layout (or TELESCOP) give its
        unit, its header the time (DATE-OBS/MJD-OBS), EXPTIME and FILTER.
    library : the master library's folder,
        ``{library}/{observatory}/{telkey}/{unit}/{BIAS,DARK,FLAT}/*.fits``, or a list of
        them (searched together).
    max_days : largest time between the frame and a master, days: one number, or one per
        type (keys ``bias``, ``dark``, ``flat``).
    dark_exptime : "exact" (a dark of the frame's EXPTIME) or "nearest" (scaled).
    settings : the configuration the settings not given come from.

    Returns
    -------
    MastersResult : the record of the chosen masters (path, SHA-256, days apart, ...).

    Raises :class:`~skyrms.io.fitsfiles.InputError` with the lookup's one line when a type
    has no master within ``max_days``.
    """
    settings = settings or default_settings()
    calibration = calibration_settings(settings, {"max_days": max_days,
                                                  "dark_exptime": dark_exptime})  # fmt: skip
    path = frame_path(frame, "nearest_masters")
    roots = [os.fspath(library)] if isinstance(library, str | os.PathLike) else list(library)
    for root in roots:
        check_path("calibration.root", root)
    key = one_frame.key_of(path, settings.inputs.root)
    fields = checked_fields(path)
    chosen = one_frame.chosen_masters(path, key, fields, calibration, roots)
    return MastersResult(path, chosen)


def propagated_rms(
    frame, background, masters, *, gain: float | None = None,
    read_noise: float | None = None, combine: str | None = None,
    dark_bias: str | None = None, settings: Settings | None = None,
) -> PropagatedRMSResult:  # fmt: skip
    """The background RMS of a frame propagated from the CCD noise model, its background and
    its masters (see :mod:`skyrms.science.noise_model`).

    Parameters
    ----------
    frame : the frame's FITS path, an NDData/CCDData (its header, ``meta``) or a FITS
        header: EGAIN, EXPTIME, NCOMBINE and RDNOISE are read from it.
    background : a :class:`~skyrms.api.results.BackgroundResult`, or the paths
        ``(background, rms)`` of the background and image-based RMS maps (ADU).
    masters : a :class:`~skyrms.api.results.MastersResult` (:func:`nearest_masters`), or
        the masters by type (``{"BIAS": ..., "DARK": ..., "FLAT": ...}``), each its FITS
        path (in the library layout) or in memory, paths and masters in memory mixed: an
        NDData/CCDData (``data`` in ADU, a flat's dimensionless; ``meta`` as the header, which
        gives NCOMBINE, EXPTIME (s), COMBMETH and DATE-OBS/MJD-OBS as a file's does; the
        ``uncertainty``, a StdDevUncertainty, as the ERR map, 1 sigma in the data's units),
        an ``(array, header)`` tuple, or a FITS HDUList (its ERR and RDNOISE, e-, extensions
        too: an NDData has no room for a master bias's read-noise map). See
        :mod:`skyrms.api.masters` for their record (placeholder path, SHA-256 of the pixels,
        days None without a time in a header).
    gain : e-/ADU (None: the frame's EGAIN).
    read_noise : e- (None: the master bias's map, else the frame's RDNOISE, else estimated
        from the master bias).
    combine : how masters without COMBMETH were combined, "mean" or "median".
    dark_bias : "same", "independent" or "none": the master bias subtracted from the dark.
    settings : the configuration the settings not given come from.

    Returns
    -------
    PropagatedRMSResult : the propagated RMS map (ADU) and the masters it was made with.

    Raises :class:`~skyrms.io.fitsfiles.InputError` with one line when a master is missing or
    unusable (not the frame's shape, no 2-d array, a dark without EXPTIME, ...).
    """
    settings = settings or default_settings()
    given = {"gain": gain, "read_noise": read_noise, "combine": combine, "dark_bias": dark_bias}
    calibration = calibration_settings(settings, given)
    name, fields, digest = frame_fields(frame)
    if not isinstance(masters, MastersResult):
        masters = MastersResult(name, *masters_record(name, fields, masters))
    inputs = {kw.IN_FRAME: name} if digest else {}
    if isinstance(background, BackgroundResult):
        sky, sky_header = background.background.data.copy(), background.background.header
        image_rms = background.rms.data
    else:
        bkg_path, image_rms = (os.fspath(path) for path in background)
        sky, sky_header = read_image(bkg_path)
        inputs |= {kw.IN_BKG: bkg_path, kw.IN_RMS: image_rms}
    product = propagated_product(
        name, sky, sky_header, image_rms, masters.masters, calibration, fields, digest, inputs,
        masters.in_memory,
    )  # fmt: skip
    return PropagatedRMSResult(product, masters)


def calibration_settings(settings: Settings, given: dict) -> CalibrationSection:
    """The ``calibration`` section of ``settings`` with the settings ``given`` (not None)
    over it; ``max_days`` (one number or one per type) as days by master type."""
    if given.get("max_days") is not None:
        given = given | {"max_days": MappingProxyType(max_days_by_type(given["max_days"]))}
    return with_given(settings.calibration, given)


def frame_path(frame, what: str) -> str:
    """The path of ``frame``, InputError unless it is one."""
    if not isinstance(frame, str | os.PathLike):
        raise InputError(f"{what}: needs the frame's path (its folders give its unit)")
    return os.fspath(frame)


def frame_fields(frame) -> tuple[str, dict, str | None]:
    """The name of ``frame`` (a path, NDData/CCDData or header), its header keywords (those
    :func:`checked_fields` gives) and, for a file, its SHA-256."""
    if isinstance(frame, str | os.PathLike):
        path = os.fspath(frame)
        return path, checked_fields(path), one_frame.frame_digest(path)
    header = fits.Header(frame.meta if isinstance(frame, NDData) else frame)
    return ARRAY_NAME, indexed_fields(header), None
