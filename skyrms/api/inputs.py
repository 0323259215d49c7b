"""What the API's functions take: an image (array, NDData/CCDData or path) and its settings.

Every input becomes a :class:`Frame`: its own float32 copy of the pixels (the source mask
sets invalid pixels to 0 in place), its header (with the WCS given), and, for a file, its
path and SHA-256, which the products record as the command line's products do.
"""

import os
from dataclasses import dataclass, fields, replace
from functools import cache

import numpy as np
from astropy.io import fits
from astropy.nddata import NDData
from astropy.wcs import WCS

from skyrms.config import load_settings
from skyrms.io.fitsfiles import InputError, check_frame_shape, native_float32, read_mask
from skyrms.io.headerindex import read_fields
from skyrms.science import maskbits
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import InvalidSpec
from skyrms.science.source_mask import MaskParams
from skyrms.settings import Settings
from skyrms.steps.mask_and_background import check_frame_pixels, read_checked_frame
from skyrms.steps.one_frame import frame_digest

ARRAY_NAME = "image"
"""How messages name an image that came from no file."""


@dataclass(frozen=True, eq=False)
class Frame:
    """An image ready for the steps.

    name : the path, or :data:`ARRAY_NAME`, for messages.
    data : native float32 pixels (frame units, ADU), the API's own copy.
    header : the frame's header (its identity and WCS go into the products).
    mask : boolean map of pixels the caller masked (NDData's mask), or None.
    path : the file the pixels came from, or None.
    digest : the file's SHA-256 (FRAMESHA), or None.
    """

    name: str
    data: np.ndarray
    header: fits.Header
    mask: np.ndarray | None = None
    path: str | None = None
    digest: str | None = None


def with_wcs(header, wcs: WCS | None) -> fits.Header:
    """A copy of ``header`` (a header, a mapping or None) with the cards of ``wcs`` over it."""
    merged = fits.Header(header) if header is not None else fits.Header()
    if wcs is not None:
        merged.update(wcs.to_header(relax=True))
    return merged


def as_frame(image, mesh: BackgroundParams, header=None, wcs: WCS | None = None) -> Frame:
    """The :class:`Frame` of ``image``, checked as the command line checks a frame.

    Parameters
    ----------
    image : a 2-d array (ADU), an :class:`~astropy.nddata.NDData` (a
        :class:`~astropy.nddata.CCDData` too: its data, mask, WCS and header are used), or
        the path of a FITS frame.
    mesh : the background mesh the image must hold one box of.
    header, wcs : for an array, its FITS header and its WCS (cards over the header's).

    Raises :class:`~skyrms.io.fitsfiles.InputError` with one line when the image cannot be
    read, is not 2-d, has no finite pixel or is smaller than one box.
    """
    if isinstance(image, str | os.PathLike):
        path = os.fspath(image)
        digest = frame_digest(path)
        data, frame_header = read_checked_frame(path, mesh)
        return Frame(path, data, frame_header, path=path, digest=digest)
    mask = None
    if isinstance(image, NDData):
        mask = None if image.mask is None else np.asarray(image.mask, dtype=bool)
        header, wcs = image.meta, image.wcs
        image = image.data
    data = np.array(image, dtype=np.float32)  # a copy, native
    if data.ndim != 2:
        raise InputError(f"{ARRAY_NAME}: not a 2-d image (shape {data.shape})")
    if mask is not None:
        check_frame_shape(ARRAY_NAME, "mask", mask.shape, data.shape)
    check_frame_pixels(ARRAY_NAME, data, mesh)
    return Frame(ARRAY_NAME, native_float32(data), with_wcs(header, wcs), mask)


def given_mask(mask, frame: Frame) -> tuple[np.ndarray, str | None]:
    """A mask given to the API as bits (uint8, :mod:`skyrms.science.maskbits`; non-zero =
    masked) of ``frame``'s shape, and the path it was read from (or None).

    ``mask`` : a mask result or the path of a mask product (their bits), an array (non-zero:
    masked, as sources), or None (no mask); NDData's own mask is added to it as invalid.
    """
    path = None
    if isinstance(mask, str | os.PathLike):
        path = os.fspath(mask)
        mask, _ = read_mask(path)
    elif mask is not None and hasattr(mask, "mask"):
        mask = mask.mask
    else:
        mask = None if mask is None else (np.asarray(mask) != 0) * np.uint8(maskbits.SOURCE)
    bits = np.zeros(frame.data.shape, np.uint8) if mask is None else np.array(mask, np.uint8)
    check_frame_shape(path or ARRAY_NAME, "mask", bits.shape, frame.data.shape)
    if frame.mask is not None:
        bits[frame.mask] |= maskbits.INVALID
    return bits, path


def checked_fields(path: str) -> dict:
    """The header keywords of the file at ``path`` the lookup and the noise model read (the
    header index's, :func:`~skyrms.io.headerindex.read_fields`), InputError if unread."""
    fields = read_fields(path)
    if "error" in fields:
        raise InputError(fields["error"])
    return fields


def with_given(base, settings: dict):
    """``base`` (a settings dataclass) with the ``settings`` given (not None) for its fields."""
    names = {field.name for field in fields(base)}
    return replace(base, **{k: v for k, v in settings.items() if k in names and v is not None})


@cache
def default_settings() -> Settings:
    """The configuration's defaults (the schema's), as the command line takes them."""
    return load_settings(None)


def parameters(
    settings: Settings | None, given: dict
) -> tuple[MaskParams, BackgroundParams, InvalidSpec]:
    """The source-mask, mesh and invalid-pixel parameters: those of ``settings`` (see
    :func:`skyrms.config.load_settings`; None: the defaults), with the keyword arguments
    ``given`` (None: not given) over them, as the command line's options go over its
    configuration."""
    settings = settings or default_settings()
    background = settings.background
    sections = settings.source_mask.params(), background.mesh(), background.invalid()
    return tuple(with_given(section, given) for section in sections)
