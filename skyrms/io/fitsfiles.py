"""Reading frames and writing products as FITS, with clear errors and atomic writes."""

import glob
import logging
import math
import os
import tempfile
import time
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning

from skyrms.io.keywords import EXTENSION_CARDS, NAXIS

log = logging.getLogger(__name__)


def ignore_nonstandard_cards() -> None:
    """Silence astropy's warnings about non-standard header cards of frames.

    They are parsed lazily, so they would repeat in every log; the cards are
    kept as they are and are not this tool's business.
    """
    warnings.filterwarnings("ignore", category=AstropyUserWarning, module="astropy.io.fits.card")
    warnings.filterwarnings("ignore", category=VerifyWarning)


def native_float32(data: np.ndarray, owned: bool = False) -> np.ndarray:
    """Return ``data`` as a C-contiguous native-endian float32 array (SEP refuses others).

    Copies only when needed. FITS float32 pixels read by astropy are big-endian;
    if the caller ``owned`` them (just read, held by nothing else), they are
    byte-swapped in place instead of copied: a fresh full-frame array costs its
    page faults (0.1-0.4 s for 9576x6388) and, for a while, twice the memory.
    """
    big_endian = np.dtype(">f4")
    if owned and data.dtype == big_endian and data.flags.writeable and data.flags.c_contiguous:
        return data.byteswap(inplace=True).view(np.float32)
    return np.ascontiguousarray(data, dtype=np.float32)


class SkyrmsError(Exception):
    """An expected failure: it ends the frame (or the command) with its one-line message,
    which names the file and the problem, and without a traceback."""


class InputError(SkyrmsError):
    """A frame, master or setting that cannot be used; the message names the file and the
    problem."""


class WriteError(SkyrmsError):
    """A product that could not be written (a full disk, a folder without permission); the
    message names the product and the cause. Nothing is left at the product's path."""


def image_hdu(hdul: fits.HDUList, path) -> fits.ImageHDU | fits.PrimaryHDU:
    """The first HDU holding a 2-d image (primary first, then extensions)."""
    for hdu in hdul:
        if hdu.is_image and hdu.header.get(NAXIS, 0) == 2:
            return hdu
    raise InputError(f"{path}: no 2-d image in any HDU")


@contextmanager
def fits_errors(path):
    """Turn any failure to read a FITS file inside the block into an :class:`InputError`
    whose message names ``path`` and the problem (a truncated file included).

    astropy says a file is truncated with a warning while it opens it; the warning is noted
    (and the file opened and closed as usual, not left open by an exception raised inside
    astropy) and the block fails when it ends. Other warnings are passed on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", "File may have been truncated", AstropyUserWarning)
        try:
            yield
        except InputError:
            raise
        except FileNotFoundError:
            raise InputError(f"{path}: file not found") from None
        except (OSError, ValueError, TypeError, IndexError) as error:
            raise InputError(
                truncation(path, caught) or f"{path}: not a readable FITS file ({error})"
            ) from None
        finally:
            passed_on = [w for w in caught if not truncation(path, [w])]
    for warning in passed_on:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if problem := truncation(path, caught):
        raise InputError(problem)


def truncation(path, caught) -> str:
    """The one line saying ``path`` is truncated, if astropy warned so (``caught``), else ""."""
    for warning in caught:
        if "File may have been truncated" in str(warning.message):
            return f"{path}: truncated ({warning.message})"
    return ""


@contextmanager
def opened_fits(path, memmap: bool = False):
    """Open a FITS file and yield its HDU list; failures, inside the ``with`` block too,
    become :class:`InputError` (see :func:`fits_errors`)."""
    with fits_errors(path), fits.open(path, memmap=memmap) as hdul:
        yield hdul


@dataclass
class RowReader:
    """An image HDU of an open FITS file, read a slab of rows at a time.

    Without a memory map: the pages read are not held by the process, and scaled integer
    images (BZERO, as raw camera frames are) read like any other. A read that fails
    raises :class:`InputError` naming ``path``. An HDU built in memory (no file behind it,
    e.g. a master given as an array) has its rows copied from its data instead: astropy's
    ``section`` reads files only. ``path`` then only names it in messages.
    """

    path: str
    header: fits.Header
    hdu: object

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the image."""
        return self.hdu.shape

    def rows(self, rows: slice) -> np.ndarray:
        """The image's ``rows`` as native float32 (physical values, BZERO/BSCALE applied)."""
        with fits_errors(self.path):
            if self.hdu.fileinfo() is None:  # in memory: a copy, never the caller's own array
                return np.array(self.hdu.data[rows], dtype=np.float32, order="C")
            return native_float32(self.hdu.section[rows])


def open_for_rows(stack: ExitStack, path, extensions=(), hdul: fits.HDUList | None = None):
    """Open ``path`` (closed with ``stack``): a :class:`RowReader` of its first 2-d image,
    and one of each named image extension (None where absent).

    ``hdul``: the HDU list to read instead of opening ``path`` (then only its name in
    messages), e.g. one built in memory; it is left open.
    """
    with fits_errors(path):
        if hdul is None:
            hdul = fits.open(path, memmap=False)
            stack.callback(hdul.close)
        image = image_hdu(hdul, path)
        found = {name: next((h for h in hdul if h.name == name), None) for name in extensions}
    named = {name: hdu and RowReader(path, hdu.header, hdu) for name, hdu in found.items()}
    return RowReader(path, image.header, image), named


@contextmanager
def opened_image(path, memmap: bool = False):
    """Open a FITS file and yield its first 2-d image HDU (errors as in :func:`opened_fits`)."""
    with opened_fits(path, memmap) as hdul:
        yield image_hdu(hdul, path)


def read_image(path) -> tuple[np.ndarray, fits.Header]:
    """Read the first 2-d image of a FITS file as native float32, with its header.

    Integer, unsigned and big-endian data are converted (BZERO/BSCALE applied).
    """
    with opened_image(path) as hdu:
        if hdu.data is None:
            raise InputError(f"{path}: the image HDU holds no data")
        return native_float32(hdu.data, owned=True), hdu.header.copy()


def read_header(path) -> fits.Header:
    """Header of the first 2-d image of a FITS file, without reading its pixels."""
    with opened_image(path, memmap=True) as hdu:
        return hdu.header.copy()


def sample_rows(ny: int, stride: int) -> list[slice]:
    """Every ``stride``-th row of the first of every ``stride`` tiles of a map ``ny`` rows high.

    A sample for statistics that decompresses a ``stride``-th of a tile-compressed
    map (see :func:`read_rows`); the rows are spread over the whole map.
    """
    starts = range(0, ny, TILE_ROWS * stride)
    return [slice(start, min(start + TILE_ROWS, ny), stride) for start in starts]


def check_frame_shape(path, what: str, shape: tuple[int, int], frame: tuple[int, int]) -> None:
    """Raise :class:`InputError` naming ``path`` unless its ``what`` (e.g. "master") has the
    ``frame``'s shape (ny, nx)."""
    if shape != frame:
        (ny, nx), (frame_ny, frame_nx) = shape, frame
        raise InputError(f"{path}: {what} is {nx}x{ny}, the frame is {frame_nx}x{frame_ny}")


def read_rows(path, rows: list[slice], shape: tuple[int, int], what: str = "image") -> np.ndarray:
    """The ``rows`` of a FITS file's first 2-d image, stacked, as native float32.

    Only those rows are read (of a tile-compressed image, the tiles holding
    them). The image, a ``what``, must have the frame's ``shape`` (ny, nx), see
    :func:`check_frame_shape`.
    """
    with opened_image(path, memmap=True) as hdu:
        check_frame_shape(path, what, hdu.shape, shape)
        return native_float32(np.concatenate([hdu.section[row] for row in rows]))


def read_mask(path) -> tuple[np.ndarray, fits.Header]:
    """Read a mask product: its uint8 bits and the header of its compressed image HDU."""
    with opened_image(path) as hdu:
        return np.asarray(hdu.data, dtype=np.uint8), hdu.header.copy()


# Seconds after which a shared file's temporary is a killed writer's, not one at work.
ABANDONED_S = 3600.0


def modified(path: Path) -> float:
    """Modification time of ``path``, s since the epoch (-inf if it is already gone)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return -math.inf


@contextmanager
def atomic_path(path, shared=False):
    """Yield a temporary path in ``path``'s folder that replaces ``path`` if the block succeeds.

    The file appears at ``path`` only when complete (``os.replace``), so an
    interrupted job never leaves a half-written file at a product path; on
    failure the temporary file is removed, and temporaries that a killed job
    left for the same path are removed before writing. A ``shared`` file (the
    header index, which every run and cluster job may save at the same time)
    has writers that race: of its temporaries only those older than
    :data:`ABANDONED_S` are removed, never another writer's in progress; the last
    replace wins. Permissions follow the umask. A failure of the file system (no
    space left, no permission) raises :class:`WriteError` naming ``path`` and the
    cause.
    """
    path = Path(path)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        oldest = time.time() - ABANDONED_S if shared else math.inf
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if modified(stale) < oldest:
                stale.unlink(missing_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        os.close(handle)
        temporary = Path(temporary)
        yield temporary
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except OSError as error:
        raise WriteError(f"{path}: cannot write ({os_reason(error)})") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


@contextmanager
def all_or_none(*paths):
    """Remove the files at ``paths`` if the block fails: products written together (a
    frame's mask and maps) stand or fall together, so a disk that fills after the first of
    them leaves none, rather than a frame half made (or new products beside old ones)."""
    try:
        yield
    except BaseException:
        for path in paths:
            Path(path).unlink(missing_ok=True)
        raise


def os_reason(error: OSError) -> str:
    """The cause of a file-system error in a few words: the system's ("No space left on
    device"), else the first sentence of the message (astropy's free-space check)."""
    return error.strerror or str(error).split(". ")[0].rstrip(".")


def atomic_write(hdul: fits.HDUList, path, checksum: bool = True) -> None:
    """Write ``hdul`` to ``path`` atomically, with CHECKSUM/DATASUM cards if ``checksum``.

    (astropy dates the CHECKSUM card's comment, so checksummed files differ byte-wise
    between runs even when their data are equal.)
    """
    with atomic_path(path) as temporary:
        hdul.writeto(temporary, overwrite=True, checksum=checksum)
    log.info(f"wrote {path}")


def current_umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


TILE_ROWS = 64
"""Rows of a compressed map's tiles: a reader decompresses whole tiles."""

MAP_PRECISION = 2e-4
"""Quantisation step of compressed float maps, as a fraction of the map's median absolute value.

Compressed maps (``outputs.compress``) are tile-compressed (RICE_1, TILE_ROWS rows a tile,
no dithering, so the same map gives the same file): values are rounded to this step, an
error of at most 1e-4 of the median (tests/workflow/test_compression.py keeps every pixel of
the demo's maps within 0.1% of the plain value). Smooth background and RMS maps shrink from
4 bytes a pixel to under 0.1; the propagated RMS, which carries the flat's pixel-to-pixel
structure, to about 1.
"""


def write_float_map(path, data: np.ndarray, header: fits.Header, compress=False, checksum=True):
    """Write a float32 map to ``path``: a plain image in the primary HDU, as SExtractor and
    SWarp read it, or with ``compress`` tile-compressed in extension 1 (see
    :data:`MAP_PRECISION`); see :func:`atomic_write` for the writing."""
    data = np.asarray(data, dtype=np.float32)
    if not compress:
        atomic_write(fits.HDUList([fits.PrimaryHDU(data, header)]), path, checksum)
        return
    atomic_write(fits.HDUList([fits.PrimaryHDU(), compressed_map(data, header)]), path, checksum)


def compressed_map(data: np.ndarray, header: fits.Header) -> fits.CompImageHDU:
    """A float32 map as a lossy tile-compressed HDU, rounded as :data:`MAP_PRECISION` says."""
    scale = float(np.median(np.abs(data[::8, ::8])))
    step = MAP_PRECISION * scale if np.isfinite(scale) and scale > 0 else MAP_PRECISION
    return fits.CompImageHDU(
        data, header, compression_type="RICE_1", quantize_level=-step,
        quantize_method=-1, tile_shape=(min(TILE_ROWS, data.shape[0]), data.shape[1]),
    )  # fmt: skip


MASK_TILE_ROWS = 16
"""Rows of a compressed mask's PLIO tiles: astropy's default of one row a tile spends more
time per tile than compressing it (docs/performance.md, "Product sizes")."""


def write_mask(path, mask: np.ndarray, header: fits.Header, compress=False) -> None:
    """Write a uint8 mask to ``path``: a plain 8-bit image in the primary HDU (a SExtractor
    FLAG_IMAGE), or with ``compress`` a PLIO tile-compressed image in extension 1 (lossless)."""
    mask = mask.astype(np.uint8, copy=False)
    if not compress:
        atomic_write(fits.HDUList([fits.PrimaryHDU(mask, header)]), path)
        return
    tile_shape = (min(MASK_TILE_ROWS, mask.shape[0]), mask.shape[1])
    compressed = fits.CompImageHDU(mask, header, compression_type="PLIO_1", tile_shape=tile_shape)
    atomic_write(fits.HDUList([fits.PrimaryHDU(), compressed]), path)


def write_plain_copy(source, target) -> None:
    """Write the first 2-d image of the FITS file ``source`` (a compressed product too) as a
    plain image in the primary HDU of ``target``, with its header; ``source`` is only read.

    Integer images keep their type (a mask stays 8-bit); float images are float32.
    """
    with opened_image(source) as hdu:
        data, header = hdu.data, hdu.header.copy()
        if data is None:
            raise InputError(f"{source}: the image HDU holds no data")
        if data.dtype.kind == "f":
            data = data.astype(np.float32, copy=False)
        for structural in EXTENSION_CARDS:
            header.remove(structural, ignore_missing=True, remove_all=True)
        atomic_write(fits.HDUList([fits.PrimaryHDU(data, header)]), target)
