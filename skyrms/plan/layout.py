"""Where a run writes: each frame's products, the jobs' logs and benchmark tables."""

import os
from dataclasses import dataclass

from skyrms.io.discovery import PRODUCTS

FRAME_JOBS = ("mask_and_background", "propagated_rms")
"""A frame's chain jobs, in the order they run: the first failure in their logs is its reason."""

KEY = "{key}"
"""The frame key as a rule's wildcard: a path given this key is the rule's pattern."""


@dataclass(frozen=True)
class Layout:
    """The folders of a run: ``results`` (tables, logs, index, built masters) and
    ``outdir``, where the per-frame products go (``results``, or ``inputs.root`` with
    ``outputs.beside_inputs``); ``calibrated`` when frames get a propagated RMS."""

    results: str
    outdir: str
    calibrated: bool

    def product(self, kind: str, key: str = KEY) -> str:
        """Path of a frame's product of ``kind`` (see :data:`skyrms.io.discovery.PRODUCTS`)."""
        return os.path.join(self.outdir, key + PRODUCTS[kind])

    def log(self, rule: str, key: str = KEY) -> str:
        """Path of a rule's per-frame log."""
        return os.path.join(self.results, "logs", rule, f"{key}.log")

    def benchmark(self, rule: str, key: str = KEY) -> str:
        """Path of a rule's per-frame benchmark table."""
        return os.path.join(self.results, "benchmarks", rule, f"{key}.tsv")

    def table(self, name: str) -> str:
        """Path of one of the run's files in the results folder (``summary.tsv``, ...)."""
        return os.path.join(self.results, name)

    def last_products(self, key: str) -> list[str]:
        """The paths that date a frame's last attempt, the first existing one winning: its
        final product (the recorded masters, or the RMS map without calibration), then its
        chain jobs' logs."""
        final = "masters" if self.calibrated else "bkgrms"
        return [self.product(final, key), *(self.log(rule, key) for rule in FRAME_JOBS)]
