"""Running a step inside a Snakemake ``script:`` job: environment, logging, one-line errors."""

import logging
import sys

from skyrms.io.fitsfiles import SkyrmsError, ignore_nonstandard_cards

JOB_ENVIRONMENT = {
    "NUMPY_MADVISE_HUGEPAGE": "0",
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
}
"""Variables the workflow gives its jobs unless the user set them (workflow/rules/plan.smk).

numpy asks the kernel for huge pages for large arrays; where the kernel then compacts
memory on the first touch (Linux's default THP setting "madvise"), every fresh full-frame
array waits for it. The two MALLOC_ variables (glibc's; other C libraries ignore them)
keep the memory of arrays up to 32 MB (the slabs of rows that jobs work through) in the
process when they are freed, instead of giving it back to the kernel and faulting fresh
zeroed pages in for the next slab. What each saves is measured in docs/performance.md
("Huge pages and the allocator").
"""


def run(snakemake, step, **arguments) -> None:
    """Call ``step(**arguments)``, logging to the job's log file (warnings also to stderr).

    Every failure ends the job with exit status 1 and lands in its log with the
    traceback: a bad input or an unwritable product (:class:`SkyrmsError`) as its
    one-line message, the traceback below it in the log only; anything else (a bug)
    as an error with its traceback, in the log and on stderr.
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
    log = logging.getLogger("skyrms")
    try:
        step(**arguments)
    except SkyrmsError as error:
        log.error(str(error))
        log.info("where the error above was raised:", exc_info=True)  # the log file only
        sys.exit(1)
    except Exception as error:
        log.exception(f"unexpected error, a bug in skyrms (please report it with this log): "
                      f"{type(error).__name__}: {error}")  # fmt: skip
        sys.exit(1)
