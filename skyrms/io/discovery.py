"""Finding science frames in the survey layout, or taking them from a list.

Frames live at ``{root}/{observatory}/{telkey}/{object}/{unit}/{filter}/{file}``.
Each selection field is a shell pattern (``*``, ``?``, ``[..]``) or a list of
them; a frame is selected when every field matches one of its patterns.
A frame's *key* is its path relative to ``root`` without the ``.fits``
ending; products are named ``{key}{suffix}`` under the output folder.
"""

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import PurePosixPath

LAYOUT = ("observatory", "telkey", "object", "unit", "filter")
"""Folder levels under the root, outermost first."""

PRODUCTS = {
    "mask": ".mask.fits",
    "bkg": ".bkg.fits",
    "bkgrms": ".bkgrms.fits",
    "masters": ".masters.json",
    "proprms": ".proprms.fits",
    "weight": ".weight.fits",
    "quicklook": ".quicklook.png",
}
"""Suffix of each per-frame product, appended to the frame's key."""

PRODUCT_SUFFIXES = tuple(PRODUCTS.values())
"""Endings of skyrms products; files ending so are never taken for frames."""

FITS_ENDINGS = (".fits.fz", ".fits.gz", ".fits", ".fit", ".fts")


@dataclass(frozen=True)
class Selection:
    """Which frames to take; every field holds a list of shell patterns."""

    observatory: tuple[str, ...] = ("*",)
    telkey: tuple[str, ...] = ("*",)
    object: tuple[str, ...] = ("*",)
    unit: tuple[str, ...] = ("*",)
    filter: tuple[str, ...] = ("*",)
    pattern: tuple[str, ...] = ("*.fits",)

    @classmethod
    def from_patterns(cls, patterns: Mapping[str, str | Sequence[str]]) -> "Selection":
        """Build from a shell pattern, or a sequence of them, per field; a field left out
        selects all (``*.fits`` for the file name)."""
        fields = {}
        for name in (*LAYOUT, "pattern"):
            value = patterns.get(name, getattr(cls, name))
            fields[name] = (value,) if isinstance(value, str) else tuple(value)
        return cls(**fields)

    def matches(self, relpath: str) -> bool:
        """True if a path relative to the root sits in the layout and matches every field."""
        parts = relpath.split(os.sep)
        if len(parts) != len(LAYOUT) + 1 or is_product(parts[-1]):
            return False
        return all(
            any(fnmatchcase(parts[level], p) for p in patterns)
            for level, patterns in self.restrictions
        )

    @cached_property
    def restrictions(self) -> list[tuple[int, tuple[str, ...]]]:
        """(level, patterns) of the fields that can leave a file out (not just ``*``)."""
        fields = (*LAYOUT, "pattern")
        return [
            (level, getattr(self, name))
            for level, name in enumerate(fields)
            if getattr(self, name) != ("*",)
        ]

    def globs(self, root: str) -> list[str]:
        """Glob patterns covering the selection (lists become ``*``, filtered after)."""
        levels = [p[0] if len(p) == 1 else "*" for p in (getattr(self, n) for n in LAYOUT)]
        files = self.pattern[0] if len(self.pattern) == 1 else "*"
        return [os.path.join(root, *levels, files)]


def is_product(name: str) -> bool:
    """True for skyrms products and hidden (temporary) files."""
    return name.startswith(".") or name.endswith(PRODUCT_SUFFIXES)


def frame_key(path: str, root: str) -> str:
    """Key of a frame: its path relative to ``root`` without the FITS ending.

    Raises ValueError for a path outside ``root`` or without a FITS ending.
    """
    absolute, folder = os.path.abspath(path), os.path.join(os.path.abspath(root), "")
    if not absolute.startswith(folder):
        raise ValueError(
            f"{path}: not under the input root {root}; set inputs.root to a folder holding it"
        )
    return strip_fits_ending(absolute[len(folder) :])


def strip_fits_ending(path: str) -> str:
    """``path`` without its FITS ending; raises ValueError if it has none."""
    for ending in FITS_ENDINGS:
        if path.endswith(ending):
            return path[: -len(ending)]
    raise ValueError(f"{path}: not a FITS file name (expected one of {', '.join(FITS_ENDINGS)})")


def discover(root: str, selection: Selection) -> list[str]:
    """Paths of the selected frames under ``root``, sorted; one pass over the tree."""
    found = set()
    for pattern in selection.globs(root):
        found.update(glob.glob(pattern))
    start = len(os.path.join(root, ""))  # the globs' paths all begin with root/
    return sorted(p for p in found if selection.matches(p[start:]))


def read_path_list(path: str) -> list[str]:
    """Frame paths from a plain text file: one per line, blank lines and ``#`` comments skipped."""
    with open(path) as handle:
        lines = (line.split("#", 1)[0].strip() for line in handle)
        return [line for line in lines if line]


def frames_by_key(paths: list[str], root: str) -> dict[str, str]:
    """Map each frame's key to its path; raises ValueError if two frames share a key."""
    keyed = {}
    for path in paths:
        key = frame_key(path, root)
        if key in keyed:
            raise ValueError(f"{path} and {keyed[key]} would write the same products ({key})")
        keyed[key] = path
    return keyed


def layout_fields(key: str) -> dict[str, str]:
    """The layout fields (observatory ... filter) of a frame key; empty strings off-layout."""
    parts = PurePosixPath(key).parts
    values = parts[:-1] if len(parts) == len(LAYOUT) + 1 else ("",) * len(LAYOUT)
    return dict(zip(LAYOUT, values, strict=True))
