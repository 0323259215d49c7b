"""A cache of the header keywords the workflow needs, kept on disk between runs.

Opening every frame and master on every invocation does not scale to a
survey archive. The index remembers, per file, its size and modification time
and the keywords read from it; a later run re-reads only files that are new
or changed, and forgets files that are gone. A file that cannot be read is
remembered with its error, so the frame fails in its own job, not the run.
"""

import json
import os
from pathlib import Path

from astropy.io import fits

from .fitsfiles import InputError, atomic_path, read_header

KEYWORDS = (
    "IMAGETYP", "OBJECT", "TELESCOP", "OBSERVAT", "FILTER", "EXPTIME", "DATE-OBS", "MJD-OBS",
    "NCOMBINE", "EGAIN", "GAIN", "RDNOISE", "SATURATE",
)  # fmt: skip
"""Keywords kept for every file (those absent from a header are left out)."""


def fingerprint(path: str) -> list[int]:
    """Size (bytes) and modification time (ns) of a file: a new value means re-read it."""
    status = os.stat(path)
    return [status.st_size, status.st_mtime_ns]


BLOCK = 2880
"""Bytes in a FITS block; header cards are 80 bytes."""


def primary_image_header(path: str) -> fits.Header | None:
    """The primary header, read directly from the file's first blocks (fast).

    None when the primary HDU holds no 2-d image or the file does not look
    like FITS: :func:`read_fields` then takes the thorough way.
    """
    blocks = []
    with open(path, "rb") as handle:
        while not blocks or not any(
            blocks[-1][i : i + 8] == b"END     " for i in range(0, BLOCK, 80)
        ):
            block = handle.read(BLOCK)
            if len(block) < BLOCK or len(blocks) > 100:
                return None
            blocks.append(block)
    try:
        header = fits.Header.fromstring(b"".join(blocks))
    except Exception:  # any malformed header: the thorough read names the problem
        return None
    return header if header.get("SIMPLE") is True and header.get("NAXIS") == 2 else None


def read_fields(path: str) -> dict:
    """The :data:`KEYWORDS` of a file's first image header, or ``{"error": message}``."""
    header = primary_image_header(path)
    try:
        header = header if header is not None else read_header(path)
    except InputError as error:
        return {"error": str(error)}
    return {
        key: header[key]
        for key in KEYWORDS
        if key in header and isinstance(header[key], str | int | float | bool)
    }


class HeaderIndex:
    """Header keywords of many files, cached in a JSON file at ``cache``."""

    def __init__(self, cache):
        self.cache = Path(cache)
        try:
            self.entries = json.loads(self.cache.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            self.entries = {}
        self.changed = False

    def fields(self, paths) -> dict[str, dict]:
        """Keywords of each path (re-read only where the file changed), by path."""
        found = {}
        for path in paths:
            stamp = fingerprint(path)
            entry = self.entries.get(path)
            if entry is None or entry["stamp"] != stamp:
                entry = {"stamp": stamp, "fields": read_fields(path)}
                self.entries[path] = entry
                self.changed = True
            found[path] = entry["fields"]
        return found

    def save(self, keep) -> None:
        """Write the cache (atomically), keeping only the paths in ``keep``."""
        kept = {path: self.entries[path] for path in keep if path in self.entries}
        if self.changed or len(kept) != len(self.entries):
            with atomic_path(self.cache) as temporary:
                temporary.write_text(json.dumps(kept, separators=(",", ":")))
