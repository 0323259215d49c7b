"""Running a step inside a Snakemake ``script:`` job: logging and one-line errors."""

import logging
import sys

from .fitsfiles import InputError, ignore_nonstandard_cards


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
