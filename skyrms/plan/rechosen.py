"""The frames outside a time selection that a nightly run must still look at.

After a sync, a master synced (or rebuilt from new raw frames) into an earlier
night can become the nearest master of frames already processed, and a frame
of an earlier night can arrive late or change. ``inputs.add_rechosen`` adds
such frames to the time selection, so that the nightly run examines the
newest night plus exactly these, never the whole archive.

A frame is a *candidate* when it was never attempted, when it arrived (was
first indexed) after its last attempt, or when a master that could serve it
(its own unit, within ``max_days``) arrived after that attempt. Times of
arrival are the header index's (:meth:`skyrms.io.headerindex.HeaderIndex.seen`),
so a sync that keeps the archive's modification times is seen all the same.
The workflow then keeps the candidates whose choice of masters differs from
the one recorded with their products (:func:`frames_choosing_other_masters`).
"""

import json
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    """A frame or master of ``unit`` taken at ``mjd`` (days), first indexed at ``seen``
    (seconds since the epoch); ``imagetyp`` is the master's type (None for a frame)."""

    unit: tuple
    mjd: float
    seen: float
    imagetyp: str | None = None


def last_attempt(paths) -> float | None:
    """When a frame was last worked on: the modification time (s since the epoch) of the
    first of ``paths`` that exists (its final product, then its jobs' logs), else None."""
    for path in paths:
        try:
            return os.stat(path).st_mtime
        except FileNotFoundError:
            continue
    return None


def candidates(
    frames: dict[str, Arrival],
    masters: list[Arrival],
    attempts: dict[str, float | None],
    max_days: dict[str, float],
) -> tuple[list[str], list[str]]:
    """The keys of ``frames`` to look at again, in two lists: those never attempted or
    arrived after their attempt (``attempts``: key -> time or None), and those that a
    master arrived after the attempt could serve (same unit, within ``max_days`` by type).
    """
    by_unit: dict[tuple, list[Arrival]] = {}
    for master in sorted(masters, key=lambda m: -m.seen):
        by_unit.setdefault(master.unit, []).append(master)
    new, served = [], []
    for key, frame in frames.items():
        attempt = attempts.get(key)
        if attempt is None or frame.seen > attempt:
            new.append(key)
            continue
        for master in by_unit.get(frame.unit, ()):
            if master.seen <= attempt:
                break
            if abs(master.mjd - frame.mjd) <= max_days[master.imagetyp]:
                served.append(key)
                break
    return new, served


def recorded_choice(path: str) -> dict | None:
    """The masters recorded for a frame (its ``.masters.json``), None when there is none
    or it cannot be read (a choice then always differs)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def frames_choosing_other_masters(
    choices: dict[str, dict | None], records: dict[str, str]
) -> list[str]:
    """The keys of the frames whose choice of masters now (``choices``: key -> the lookup's
    record, or None if it fails) differs from the one recorded at ``records[key]``."""
    return [key for key, choice in choices.items() if choice != recorded_choice(records[key])]
