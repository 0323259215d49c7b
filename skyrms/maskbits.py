"""Bit values of the uint8 mask product (a pixel may carry several bits).

A pixel is excluded from the background and RMS estimates when any bit is set.
"""

INVALID = 1
"""Not a finite number in the frame, or flagged by the user's bad-pixel mask."""
SOURCE = 2
"""Inside the mask ellipse of a detected, non-saturated source."""
SATURATED = 4
"""Inside the (larger) mask ellipse of a saturated source, or itself saturated."""
MANUAL = 8
"""Inside a circular mask from the configuration."""

NAMES = {INVALID: "invalid", SOURCE: "source", SATURATED: "saturated", MANUAL: "manual"}


def describe() -> str:
    """One line naming every bit, for the mask product's header."""
    return ", ".join(f"{bit}={name}" for bit, name in NAMES.items())
