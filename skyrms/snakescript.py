"""Running a step inside a Snakemake ``script:`` job: environment, logging, one-line errors."""

import logging
import sys

from .fitsfiles import InputError, ignore_nonstandard_cards

JOB_ENVIRONMENT = {"NUMPY_MADVISE_HUGEPAGE": "0"}
"""Variables the workflow gives its jobs unless the user set them (workflow/rules/common.smk).

numpy asks the kernel for huge pages for large arrays; where the kernel then compacts
memory on the first touch (Linux's default THP setting "madvise"), every fresh full-frame
array costs 0.4-0.7 s instead of 0.1 s. Measured on 9576x6388 frames: mask_and_background
13.3 -> 10.3 s, propagated_rms 5.2 -> 4.0 s.
"""


def run(snakemake, step, **arguments) -> None:
    """Call ``step(**arguments)``, logging to the job's log file (warnings also to stderr).

    A bad input (:class:`InputError`) ends the job with its one-line message
    and exit status 1; anything else is a bug and keeps its traceback.
    """
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    handlers = [console]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {snakemake.rule} %(levelname)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    ignore_nonstandard_cards()
    try:
        step(**arguments)
    except InputError as error:
        logging.getLogger("skyrms").error(str(error))
        sys.exit(1)
