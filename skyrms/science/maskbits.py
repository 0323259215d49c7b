"""Bit values of the uint8 mask product (a pixel may carry several bits).

A pixel is excluded from the background and RMS estimates when any bit is set.
"""

INVALID = 1
"""No measurement: not finite, blank (BLANK, the configured value, a run of one value),
or flagged by the user's bad-pixel mask (see :mod:`skyrms.science.blanks`)."""
SOURCE = 2
"""A detected, non-saturated source's pixel, or inside its grown ellipse
(:mod:`skyrms.science.growth`)."""
SATURATED = 4
"""At or above the saturation level, or a saturated source's pixel or grown ellipse (its
halo, which holds measured light)."""
MANUAL = 8
"""Inside a circular mask from the configuration."""
CLIPPED = 16
"""At or above the saturation level: the value is a lower limit, not a measurement (these
pixels carry SATURATED too)."""

NAMES = {
    INVALID: "invalid", SOURCE: "source", SATURATED: "saturated", MANUAL: "manual",
    CLIPPED: "clipped",
}  # fmt: skip

ALL = INVALID | SOURCE | SATURATED | MANUAL | CLIPPED


def describe(bits: int = ALL) -> str:
    """One line naming each of ``bits`` (all by default), for the products' headers."""
    return ", ".join(f"{bit}={name}" for bit, name in NAMES.items() if bit & bits)
