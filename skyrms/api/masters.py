"""The masters given to :func:`skyrms.propagated_rms` by type: files, or masters in memory.

A master in memory is an :class:`~astropy.nddata.NDData` (a
:class:`~astropy.nddata.CCDData` too), an ``(array, header)`` tuple or a FITS
:class:`~astropy.io.fits.HDUList`. It becomes the HDU list of a master's file: its pixels
with its header (``meta``) in the primary HDU, its 1-sigma error map (NDData's
:class:`~astropy.nddata.StdDevUncertainty`) in the ``ERR`` extension (an HDU list keeps its
own ``ERR`` and ``RDNOISE`` extensions). The propagation then reads it with the code that
reads a master's file (:func:`skyrms.steps.propagated_rms.load_calibration`): its header
gives NCOMBINE, EXPTIME, COMBMETH, ... and a missing keyword has the default, or fails with
the message, that a file would.

Its record (:func:`skyrms.plan.master_lookup.record`, what ``.masters.json`` holds) has:

- ``path``: the placeholder ``"<BIAS array>"`` (``"<DARK array>"``, ...), which messages
  name it by; the product has no ``IN_BIAS`` card for it (no file to name);
- ``sha256``: the SHA-256 of its pixels, not of a file: of each map's name ("image", then
  ``ERR`` and ``RDNOISE`` where present) and its pixels as little-endian float32 in C order,
  as the propagation reads them (the header is not included);
- ``days``: its time (MJD-OBS, else DATE-OBS) minus the frame's, days; ``None`` (JSON
  null; an undefined ``BIASDAYS``, ... card) with a warning when its header or the frame's
  has no usable time, which for a file master is an error;
- ``mjd``, ``exptime``, ``filter``, ``ncombine`` from its header, as from a file's.
"""

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata import NDData, StdDevUncertainty

from skyrms.api.inputs import checked_fields
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import InputError, fits_errors, image_hdu
from skyrms.io.header_values import mjd_of
from skyrms.io.headerindex import indexed_fields, sha256_of
from skyrms.plan.master_lookup import TYPES, Pick, described_master, master_of
from skyrms.plan.master_lookup import record as lookup_record

log = logging.getLogger(__name__)

MEMORY_NAME = "<{} array>"
"""The record's path of a master given in memory, by type: its name in messages."""

MAP_NAMES = (kw.ERROR_EXTENSION, kw.READ_NOISE_EXTENSION)
"""The maps of a master besides its image, by EXTNAME."""

DIGEST_ROWS = 256
"""Rows of a map hashed at a time: a map in another byte order or type is converted a
block at a time (10 MB of a full 7DT frame), never whole."""

LEFT_OUT = (*kw.EXTENSION_CARDS, kw.BZERO, kw.BSCALE, kw.BLANK)
"""Cards of a header given with an array that would misdescribe it in a primary HDU (the
array holds physical values)."""


def masters_record(name: str, fields: dict, masters) -> tuple[dict, dict[str, fits.HDUList]]:
    """The lookup's record of the masters given by type, and those given in memory as the
    HDU lists the propagation reads (by type).

    Parameters
    ----------
    name : the frame's name (its path, or "image") for messages.
    fields : the frame's header keywords (DATE-OBS/MJD-OBS give its time).
    masters : by type (BIAS, DARK, FLAT), a master's path (in the library layout) or a
        master in memory (see the module).

    Raises :class:`~skyrms.io.fitsfiles.InputError` with one line when a type is missing or a
    master cannot be used.
    """
    if not isinstance(masters, Mapping):
        raise InputError("masters: needs a MastersResult or the masters by type (BIAS, ...)")
    missing = [imagetyp for imagetyp in TYPES if imagetyp not in masters]
    if missing:
        raise InputError(f"masters: no {', '.join(missing)} given (needs {', '.join(TYPES)})")
    in_memory = {}
    for imagetyp in TYPES:
        if (hdul := as_hdul(imagetyp, masters[imagetyp])) is not None:
            in_memory[imagetyp] = hdul
    try:
        frame_mjd, no_time = mjd_of(fields, name), ""
    except ValueError as error:
        frame_mjd, no_time = None, str(error)
    picks, digests = {}, {}
    try:
        for imagetyp in TYPES:
            if imagetyp in in_memory:
                hdul, what = in_memory[imagetyp], MEMORY_NAME.format(imagetyp)
                picks[imagetyp] = memory_pick(what, imagetyp, hdul, frame_mjd, no_time)
                digests[what] = pixels_digest(hdul, what)
                continue
            if no_time:
                raise ValueError(no_time)
            path = os.fspath(masters[imagetyp])
            master = master_of(path, str(Path(path).parents[4]), checked_fields(path))
            picks[imagetyp] = Pick(master, master.mjd - frame_mjd)
    except ValueError as error:
        raise InputError(str(error)) from None
    return lookup_record(picks, lambda path: digests.get(path) or sha256_of(path)), in_memory


def as_hdul(imagetyp: str, master) -> fits.HDUList | None:
    """A master given in memory as the HDU list of its file (see the module); None for a path.

    Raises :class:`~skyrms.io.fitsfiles.InputError` when ``master`` is none of the forms, its
    pixels or error map are no 2-d array of numbers, or its header is no FITS header.
    """
    name = MEMORY_NAME.format(imagetyp)
    if isinstance(master, str | os.PathLike):
        return None
    if isinstance(master, fits.HDUList):
        return master
    if isinstance(master, NDData):
        return built_hdul(name, master.data, master.meta, error_map(name, master))
    if isinstance(master, tuple) and len(master) == 2:
        return built_hdul(name, *master)
    raise InputError(
        f"masters: the {imagetyp} is a {type(master).__name__}, not a path, an NDData/CCDData, "
        "an (array, header) tuple or an HDUList"
    )


def built_hdul(name: str, data, header, error=None) -> fits.HDUList:
    """The HDU list of a master's file: ``data`` (its units: ADU, a flat dimensionless) with
    ``header`` (a FITS header, a mapping or None) and, if given, the ``error`` map (1 sigma,
    the same units) as the ERR extension."""
    data = image_array(name, "master", data)
    try:
        header = fits.Header(header) if header is not None else fits.Header()
    except (TypeError, ValueError, AttributeError) as problem:
        raise InputError(f"{name}: its header is not a FITS header ({problem})") from None
    for card in LEFT_OUT:
        header.remove(card, ignore_missing=True, remove_all=True)
    hdus = [fits.PrimaryHDU(data, header)]
    if error is not None:
        hdus.append(fits.ImageHDU(image_array(name, "ERR map", error), name=kw.ERROR_EXTENSION))
    return fits.HDUList(hdus)


def image_array(name: str, what: str, data) -> np.ndarray:
    """``data`` as an array, InputError naming ``name`` and ``what`` unless it is 2-d and of
    numbers."""
    array = np.asarray(data)
    if array.dtype.kind not in "iuf":
        raise InputError(f"{name}: {what} is not an array of numbers ({array.dtype})")
    if array.ndim != 2:
        raise InputError(f"{name}: {what} is not a 2-d image (shape {array.shape})")
    return array


def error_map(name: str, master: NDData):
    """The 1-sigma error map of an NDData (its StdDevUncertainty, in the data's units), or
    None; InputError for another kind of uncertainty or another unit."""
    uncertainty = master.uncertainty
    if uncertainty is None:
        return None
    if not isinstance(uncertainty, StdDevUncertainty):
        raise InputError(f"{name}: its uncertainty is a {type(uncertainty).__name__}, "
                         "not a StdDevUncertainty (the 1-sigma error map)")  # fmt: skip
    unit, data_unit = uncertainty.unit, master.unit
    if unit is not None and data_unit is not None and unit != data_unit:
        raise InputError(f"{name}: its uncertainty is in {unit}, its data in {data_unit}")
    return uncertainty.array


def memory_pick(name: str, imagetyp: str, hdul, frame_mjd, no_time: str) -> Pick:
    """The lookup's pick of a master given in memory: its header's keywords as a file's
    (:func:`~skyrms.io.headerindex.indexed_fields`), days unknown (None, with a warning)
    without a time in its header or the frame's (``no_time`` says why for the frame)."""
    fields = indexed_fields(image_hdu(hdul, name).header)
    has_time = kw.MJD_OBS in fields or kw.DATE_OBS in fields
    mjd = mjd_of(fields, name) if has_time else None
    master = described_master(name, ("", "", "", imagetyp), fields, mjd)
    if mjd is None or frame_mjd is None:
        why = no_time or f"no {kw.DATE_OBS} or {kw.MJD_OBS} in its header"
        log.warning(f"{name}: its days apart from the frame are unknown ({why})")
        return Pick(master, None)
    return Pick(master, mjd - frame_mjd)


def pixels_digest(hdul: fits.HDUList, name: str) -> str:
    """SHA-256 (hex) of a master's maps: the name of each ("image", then ERR and RDNOISE
    where present) and its pixels as little-endian float32, C order; a failure to read them
    (an HDU list of a file closed since) is an InputError naming ``name``."""
    digest = hashlib.sha256()
    maps = {"image": image_hdu(hdul, name)}
    maps |= {extname: next((h for h in hdul if h.name == extname), None) for extname in MAP_NAMES}
    with fits_errors(name):
        for label, hdu in maps.items():
            if hdu is not None and hdu.data is not None:
                digest.update(label.encode())
                for start in range(0, len(hdu.data), DIGEST_ROWS):
                    rows = hdu.data[start : start + DIGEST_ROWS]
                    digest.update(np.ascontiguousarray(rows, dtype="<f4"))
    return digest.hexdigest()
