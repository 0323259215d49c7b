"""Finding science frames in the survey layout, or taking them from a list.

Frames live at ``{root}/{observatory}/{telkey}/{object}/{unit}/{filter}/{file}``.
Each selection field is a shell pattern (``*``, ``?``, ``[..]``) or a list of
them; a frame is selected when every field matches one of its patterns.
A frame's *key* is its path relative to ``root`` without the ``.fits``
ending; products are named ``{key}{suffix}`` under the output folder.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
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

    def levels(self) -> list[tuple[str, ...]]:
        """The patterns of each level under the root, the observatory folder's first and the
        file name's last."""
        return [getattr(self, name) for name in (*LAYOUT, "pattern")]


def matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    """True if ``name`` matches one of ``patterns``; as in glob, a hidden name (``.x``)
    only a pattern that starts with a dot."""
    return any(
        fnmatchcase(name, pattern)
        for pattern in patterns
        if pattern.startswith(".") or not name.startswith(".")
    )


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


def discover_by_key(root: str, selection: Selection) -> dict[str, str]:
    """The selected frames under ``root`` by key (see :func:`frames_by_key`), in the order
    of their paths (every one begins with ``root``: no path needs making absolute)."""
    start = os.path.join(root, "")
    paths = sorted(start + "/".join(parts) for parts in selected_parts(root, selection))
    return unique_keys((strip_fits_ending(path)[len(start) :], path) for path in paths)


def selected_parts(root: str, selection: Selection) -> list[tuple[str, ...]]:
    """Folder and file names of the selected frames, relative to ``root``: one listing per
    folder, each level's names matched as they are read (a folder left out is never
    opened). Skyrms products and hidden files are never frames."""
    found = [()]
    for level, patterns in enumerate(selection.levels()):
        found = [
            (*parts, name)
            for parts in found
            for name in names_in(os.path.join(root, *parts), folders=level < len(LAYOUT))
            if matches_any(name, patterns)
        ]
    return [parts for parts in found if not is_product(parts[-1])]


def names_in(folder: str, folders: bool) -> list[str]:
    """Names of the subfolders (``folders``) or else of the other entries in ``folder``;
    none if it cannot be listed (as glob skips it)."""
    try:
        with os.scandir(folder) as entries:
            return [entry.name for entry in entries if entry.is_dir() == folders]
    except OSError:
        return []


def read_path_list(path: str) -> list[str]:
    """Frame paths from a plain text file: one per line, blank lines and ``#`` comments skipped."""
    with open(path) as handle:
        lines = (line.split("#", 1)[0].strip() for line in handle)
        return [line for line in lines if line]


def frames_by_key(paths: list[str], root: str) -> dict[str, str]:
    """Map each frame's key to its path; raises ValueError if two frames share a key."""
    return unique_keys((frame_key(path, root), path) for path in paths)


def unique_keys(pairs) -> dict[str, str]:
    """A mapping of (key, path) pairs; raises ValueError if two paths share a key."""
    keyed = {}
    for key, path in pairs:
        if key in keyed:
            raise ValueError(f"{path} and {keyed[key]} would write the same products ({key})")
        keyed[key] = path
    return keyed


def layout_fields(key: str) -> dict[str, str]:
    """The layout fields (observatory ... filter) of a frame key; empty strings off-layout."""
    parts = PurePosixPath(key).parts
    values = parts[:-1] if len(parts) == len(LAYOUT) + 1 else ("",) * len(LAYOUT)
    return dict(zip(LAYOUT, values, strict=True))
