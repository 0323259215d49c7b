"""What the workflow knows of each input file, kept on disk between runs.

Opening every frame and master on every invocation does not scale to a
survey archive. The index remembers, per file, its size and modification time
(the *stamp*), the header keywords read from it and the SHA-256 of its bytes;
a later run re-reads only files whose stamp changed, and forgets files that
are gone. The digest lets the workflow tell a file rewritten with the same
bytes (a sync that does not keep modification times: nothing to redo) from
one whose content changed. A file that cannot be read is remembered with its
error, so that frame fails in its own job, not the whole run. Each entry also
keeps when the file was first examined (*seen*): the moment it arrived, as far
as the workflow can tell, whatever modification time a sync gave it (entries
of an index written before arrival times were kept count as arrived at time 0,
so that upgrading does not read and hash a whole archive again).

An index that cannot be read whole (truncated, corrupt) is never trusted: every
file is examined again, and :attr:`HeaderIndex.discarded` says why for the caller
to warn. One made for other keywords (an upgrade that indexes more of them) keeps
its digests and arrival times and only has the headers read again.
"""

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from astropy.io import fits

from skyrms.io.fitsfiles import InputError, atomic_path, read_header
from skyrms.io.keywords import INDEXED, NAXIS, SIMPLE


def stamp_of(path: str) -> list[int]:
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
    return header if header.get(SIMPLE) is True and header.get(NAXIS) == 2 else None


def read_fields(path: str) -> dict:
    """The keywords :data:`~skyrms.io.keywords.INDEXED` of a file, or ``{"error": message}``."""
    header = primary_image_header(path)
    try:
        header = header if header is not None else read_header(path)
    except InputError as error:
        return {"error": str(error)}
    return indexed_fields(header)


def indexed_fields(header) -> dict:
    """The keywords :data:`~skyrms.io.keywords.INDEXED` of a header (a mapping), those with a
    plain value (text, number or boolean): what :func:`read_fields` gives of a file's."""
    return {
        str(key): header[key]
        for key in INDEXED
        if key in header and isinstance(header[key], str | int | float | bool)
    }


def sha256_of(path: str) -> str:
    """Hex SHA-256 of a file's bytes (about 0.2 s for a 245 MB frame)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def examine(path: str) -> dict:
    """A fresh index entry for ``path``: stamp, header keywords, digest, and now as seen."""
    stamp = stamp_of(path)
    fields, digest = read_fields(path), sha256_of(path)
    return {"stamp": stamp, "fields": fields, "sha256": digest, "seen": time.time()}


ENTRY_KEYS = {"stamp", "fields", "sha256"}
"""What every entry of a trusted index holds (and ``seen``, 0 when it was not kept)."""


def load_entries(cache: Path) -> tuple[dict, str | None]:
    """The entries saved at ``cache`` and None, or no entries and why they are not trusted."""
    try:
        saved = json.loads(cache.read_bytes())
    except FileNotFoundError:
        return {}, None
    except (ValueError, OSError) as error:
        return {}, f"{cache}: unreadable ({error}), every file is read again"
    entries = saved.get("entries") if isinstance(saved, dict) else None
    if not isinstance(entries, dict) or not all(
        isinstance(entry, dict) and entry.keys() >= ENTRY_KEYS for entry in entries.values()
    ):
        return {}, f"{cache}: not a header index of this version, every file is read again"
    for entry in entries.values():
        entry.setdefault("seen", 0.0)
    if saved.get("keywords") != list(INDEXED):
        for entry in entries.values():
            entry["fields"] = None  # read again; the digests and arrival times still hold
        return entries, f"{cache}: made for other header keywords, every header is read again"
    return entries, None


class HeaderIndex:
    """Header keywords and digests of many files, cached in a JSON file at ``cache``."""

    def __init__(self, cache):
        self.cache = Path(cache)
        self.entries, self.discarded = load_entries(self.cache)
        self.changed = self.discarded is not None

    def refresh(self, paths) -> int:
        """Examine the paths that are new or whose stamp changed; returns how many.

        Files are examined on all cores at once (hashing releases Python's lock).
        """
        stale = [p for p in paths if self.entries.get(p, {}).get("stamp") != stamp_of(p)]
        unread = [p for p in paths if p not in stale and self.entries[p]["fields"] is None]
        with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            self.entries.update(zip(stale, pool.map(examine, stale), strict=True))
            for path, fields in zip(unread, pool.map(read_fields, unread), strict=True):
                self.entries[path]["fields"] = fields
        self.changed |= bool(stale or unread)
        return len(stale)

    def fields(self, path: str) -> dict:
        """Header keywords of a refreshed path (``{"error": ...}`` if unreadable)."""
        return self.entries[path]["fields"]

    def digest(self, path: str) -> str:
        """SHA-256 of a refreshed path's bytes."""
        return self.entries[path]["sha256"]

    def seen(self, path: str) -> float:
        """When a refreshed path was first examined as it is now (s since the epoch)."""
        return self.entries[path]["seen"]

    def save(self, keep) -> None:
        """Write the cache (atomically), keeping only the paths in ``keep``."""
        kept = {path: self.entries[path] for path in keep if path in self.entries}
        if self.changed or len(kept) != len(self.entries):
            with atomic_path(self.cache, shared=True) as temporary:
                saved = {"keywords": list(INDEXED), "entries": kept}
                temporary.write_text(json.dumps(saved, separators=(",", ":")))
