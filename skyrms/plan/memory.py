"""Memory to reserve for each job, from the size of the largest frame a run selects.

Peak resident memory per frame pixel plus the interpreter and its libraries, with headroom
over what the benchmark measures on full frames (docs/performance.md, "Memory").
"""

from skyrms.io.keywords import NAXIS1, NAXIS2

BASE_MB = 100
"""The interpreter, numpy, astropy and SEP loaded, MB."""

BYTES_PER_PIXEL = {
    "mask_and_background": 24,
    "propagated_rms": 21,
    "quicklook": 11,
    "master": 20,
    "weight": 12,
}
"""Peak memory of a job per pixel of its frame, bytes, by rule."""


def largest_frame(headers) -> int:
    """Pixels in the largest of ``headers`` (index fields; 0 if none has a size)."""
    return max((h.get(NAXIS1, 0) * h.get(NAXIS2, 0) for h in headers), default=0)


def memory_mb(pixels: int) -> dict[str, int]:
    """Memory to reserve for one job of each rule on frames of ``pixels`` pixels, MB."""
    return {
        rule: int(BASE_MB + per_pixel * pixels / 2**20)
        for rule, per_pixel in BYTES_PER_PIXEL.items()
    }
