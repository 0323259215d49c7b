"""Browsing synced data: the selected frames, and which of their products exist.

    from skyrms import browse
    frames = browse.select(root="scidata", results="results", object="T00528",
                           filter="m600", pattern="*100.fits")
    rms_maps = browse.paths(frames, "bkgrms")

Frames are selected as the workflow selects them (:mod:`skyrms.io.discovery`),
then by ``DATE-OBS`` (UTC). Each product of :data:`discovery.PRODUCTS` is

- ``missing``: no file;
- ``stale``: its ``FRAMESHA`` (the SHA-256 of the frame it was made from) is
  not the frame's SHA-256 now, or it cannot be read: it needs remaking;
- ``ok``: otherwise. Products without ``FRAMESHA`` (of skyrms before 0.2) and
  the masters record (JSON, no header) are ok when present.

A frame's ``DATE-OBS`` and digest come from the workflow's header index
(``{results}/header-index.json``) while the frame's size and modification time
are those recorded there; otherwise its header is read, and its bytes hashed
only if it has a product carrying ``FRAMESHA``. The index is never written.
"""

import argparse
import functools
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime

from astropy.io import fits

from skyrms.io.discovery import LAYOUT, PRODUCTS, Selection, discover_by_key, layout_fields
from skyrms.io.fitsfiles import InputError, read_header
from skyrms.io.header_values import date_obs_or_none
from skyrms.io.headerindex import (
    HeaderIndex,
    primary_image_header,
    read_fields,
    sha256_of,
    stamp_of,
)
from skyrms.io.keywords import DATE_OBS, FRAMESHA
from skyrms.plan.frame_times import selected_by_time, time_bound
from skyrms.settings import Settings

FIELDS = (*LAYOUT, "pattern")
"""Selection fields: the layout's folder levels and the file name pattern."""

KINDS = ("frame", *PRODUCTS)
"""What ``--paths`` can print: the frames, or one kind of product."""


@dataclass(frozen=True)
class FrameRecord:
    """One selected frame and its products.

    ``date_obs`` is the frame's DATE-OBS in UTC (naive; None when absent or
    unreadable); ``products`` maps each kind of :data:`discovery.PRODUCTS` to
    where that product is (or would be), ``status`` to ok, missing or stale.
    """

    path: str
    key: str
    observatory: str
    telkey: str
    object: str
    unit: str
    filter: str
    date_obs: datetime | None
    products: dict[str, str]
    status: dict[str, str]


def select(
    root: str,
    results: str = "results",
    *,
    beside_inputs: bool = False,
    observatory: str | list[str] | None = None,
    telkey: str | list[str] | None = None,
    object: str | list[str] | None = None,
    unit: str | list[str] | None = None,
    filter: str | list[str] | None = None,
    pattern: str | list[str] | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    newest_nights: int = 0,
    night_starts: float = 12.0,
) -> list[FrameRecord]:
    """The selected frames under ``root`` with their products, sorted by path.

    The layout fields and ``pattern`` (the file name) take a shell pattern or
    a list of them; None selects all (``*.fits`` for the file name).
    ``since`` and ``until`` bound DATE-OBS (UTC, inclusive): a date stands for
    its whole day, an ISO time (or datetime) for that instant; with either, a
    frame without a readable DATE-OBS is left out. ``newest_nights`` > 0 keeps
    the frames of the newest that many nights among them (a night starts at
    ``night_starts`` hours UTC; see :mod:`skyrms.plan.frame_times`). Products are under
    ``results``, or next to the frames with ``beside_inputs``. Raises
    InputError for a missing folder or a malformed time.
    """
    patterns = {
        "observatory": observatory, "telkey": telkey, "object": object, "unit": unit,
        "filter": filter, "pattern": pattern,
    }  # fmt: skip
    selection = Selection.from_patterns({k: v for k, v in patterns.items() if v is not None})
    start, stop = time_bound(since, "since"), time_bound(until, "until", end=True)
    check_folder(root, "input root (inputs.root, --root)")
    if not beside_inputs:
        check_folder(results, "results folder (outputs.results, --results)")
    entries = index_entries(results)
    try:
        frames = discover_by_key(root, selection)
    except ValueError as error:  # a name that is no frame's, or two frames of one key
        raise InputError(str(error)) from None
    found = {}
    for key, path in frames.items():
        entry = current_entry(path, entries)
        found[key] = entry, date_obs_or_none(entry["fields"] if entry else read_fields(path))
    moments = {key: moment for key, (_, moment) in found.items()}
    outdir = root if beside_inputs else results
    return [
        record_of(frames[key], key, outdir, found[key][1], found[key][0])
        for key in selected_by_time(moments, start, stop, newest_nights, night_starts)
    ]


def check_folder(path, what: str) -> None:
    """Raise InputError naming ``what`` when ``path`` is not a folder."""
    if not os.path.isdir(path):
        raise InputError(f"{path}: {what} not found")


def index_entries(results) -> dict[str, dict]:
    """The header index's entries in ``results`` by absolute path (empty without an index)."""
    index = HeaderIndex(os.path.join(results, "header-index.json"))
    return {os.path.abspath(path): entry for path, entry in index.entries.items()}


def current_entry(path, entries: dict[str, dict]) -> dict | None:
    """The index entry of a frame whose size and modification time are still those recorded."""
    entry = entries.get(os.path.abspath(path))
    return entry if entry is not None and entry["stamp"] == stamp_of(path) else None


def record_of(path, key, outdir, moment: datetime | None, entry: dict | None) -> FrameRecord:
    """The record of the frame at ``path`` with ``key``, its products looked for in
    ``outdir``."""
    products = {kind: os.path.join(outdir, key + suffix) for kind, suffix in PRODUCTS.items()}
    digest = functools.cache(lambda: entry["sha256"] if entry else sha256_of(path))
    status = {kind: product_status(product, digest) for kind, product in products.items()}
    fields = layout_fields(key)
    return FrameRecord(path, key, **fields, date_obs=moment, products=products, status=status)


def product_status(path, frame_digest) -> str:
    """ok, missing or stale (see the module's docstring); ``frame_digest()`` is called if needed."""
    if not os.path.exists(path):
        return "missing"
    if not path.endswith(".fits"):  # the masters record: JSON, no header
        return "ok"
    try:
        recorded = read_product_header(path).get(FRAMESHA)
    except InputError:
        return "stale"
    return "ok" if recorded is None or recorded == frame_digest() else "stale"


def read_product_header(path) -> fits.Header:
    """The header of a FITS product or frame (a mask's: its image extension's).

    Raises InputError when the file cannot be read as FITS.
    """
    header = primary_image_header(path)
    return header if header is not None else read_header(path)


def paths(records: list[FrameRecord], kind: str = "frame") -> list[str]:
    """The frames' paths (``kind`` "frame"), or their existing (ok or stale) products of a kind."""
    if kind == "frame":
        return [record.path for record in records]
    return [record.products[kind] for record in records if record.status[kind] != "missing"]


def table(records: list[FrameRecord]) -> str:
    """Text table: a row per frame (key, DATE-OBS), a column per product kind with its status."""
    rows = [("frame", DATE_OBS, *PRODUCTS)]
    for record in records:
        moment = record.date_obs.isoformat() if record.date_obs else "-"
        rows.append((record.key, moment, *(record.status[kind] for kind in PRODUCTS)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``skyrms products``: the selection's and ``--paths``."""
    add_selection_arguments(parser)
    parser.add_argument(
        "--paths",
        choices=KINDS,
        metavar="KIND",
        help=f"print only paths, one a line: {', '.join(KINDS)} (existing products)",
    )


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that select frames and say where their products are (``--configfile``,
    ``--root``, ``--results``, the layout patterns, ``--since``, ...)."""
    parser.add_argument("--configfile", help="YAML file in the workflow's config.yaml format")
    parser.add_argument("--root", help="folder holding the frames (inputs.root)")
    parser.add_argument("--results", help="products folder (outputs.results; default results)")
    parser.add_argument(
        "--beside-inputs",
        dest="beside_inputs",
        action=argparse.BooleanOptionalAction,
        help="products sit next to the frames (outputs.beside_inputs)",
    )
    for name in FIELDS:
        parser.add_argument(
            f"--{name}", action="append", metavar="PATTERN", help=f"repeatable (inputs.{name})"
        )
    parser.add_argument("--since", metavar="WHEN", help="DATE-OBS (UTC) from this date or time")
    parser.add_argument("--until", metavar="WHEN", help="DATE-OBS to this time, or date's end")
    parser.add_argument(
        "--newest-nights", dest="newest_nights", type=int, metavar="N",
        help="only the newest N nights among the selected frames (inputs.newest_nights)",
    )  # fmt: skip


def command(args, settings: Settings) -> None:
    """``skyrms products``: the status table, or with ``--paths`` the paths alone.

    Options override the ``inputs`` and ``outputs`` sections of ``settings``.
    """
    records = selected_records(args, settings)
    if args.paths:
        print_paths(records, args.paths)
    else:
        print(table(records))


def selected_records(args, settings: Settings) -> list[FrameRecord]:
    """The frames that the options of :func:`add_selection_arguments` (over the ``inputs``
    and ``outputs`` sections of ``settings``) select, as :func:`select` returns them; a
    selection that matches nothing is said on stderr."""
    inputs, outputs = settings.inputs, settings.outputs
    root = args.root or inputs.root
    if not root:
        raise InputError("no input root: give --root, or inputs.root in --configfile")
    beside = args.beside_inputs
    records = select(
        root,
        args.results or outputs.results,
        beside_inputs=outputs.beside_inputs if beside is None else beside,
        since=time_bound(args.since or inputs.since or None, "--since"),
        until=time_bound(args.until or inputs.until or None, "--until", end=True),
        newest_nights=args.newest_nights or inputs.newest_nights,
        night_starts=inputs.night_starts,
        **{name: getattr(args, name) or getattr(inputs, name) for name in FIELDS},
    )
    if not records:
        print(f"skyrms: no frame under {root} matches the selection", file=sys.stderr)
    return records


def print_paths(records: list[FrameRecord], kind: str) -> None:
    """Print :func:`paths` one a line, and on stderr how many of those products are stale."""
    for path in paths(records, kind):
        print(path)
    stale = sum(record.status.get(kind) == "stale" for record in records)
    if stale:
        print(f"skyrms: {stale} of these {kind} products are stale", file=sys.stderr)
