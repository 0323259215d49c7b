"""Settings: the configuration, validated, and the settings every rule reads.

At parse time: takes the --configfile files given, or without one config.yaml of the
folder the run starts in, else the embedded demo's beside the Snakefile (--config values
go on top of either), fills in the
schema's defaults and validates it (skyrms.config, as the CLI and the browser do), says
in the log which files it used, writes the demo survey when demo.enabled and it is not
there yet, and checks that the folders and files the settings name can be read.
"""

import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version

from skyrms import config as configuration
from skyrms.io.fitsfiles import InputError
from skyrms.settings import Settings

min_version("9.0")

REPORTING = "--report" in sys.argv and "--report-after-run" not in sys.argv
"""Whether this invocation only makes the report (Snakemake runs no job for it)."""
DRY_RUN = any(
    argument in ("--dry-run", "--dryrun")
    or (argument[:1] == "-" and argument[1:].isalpha() and "n" in argument[1:])
    for argument in sys.argv[1:]
)
"""Whether this invocation is a dry run (-n, -np, --dry-run): it only says what it would do."""

EMBEDDED_DEMO = os.path.join(workflow.basedir, "config.yaml")
CONFIG_FILES = [str(path) for path in workflow.overwrite_configfiles] or [
    "config.yaml" if os.path.exists("config.yaml") else EMBEDDED_DEMO
]
"""The configuration files of this run, in order: --configfile's, else config.yaml of the
folder the run starts in, else the embedded demo's beside the Snakefile."""

try:
    if not workflow.overwrite_configfiles:  # that file, under the --config values given
        config.update(configuration.merged(configuration.read(CONFIG_FILES[0]), config))
    configuration.validated(config, " + ".join(CONFIG_FILES))
    configuration.check_workflow_settings(config)
except InputError as error:
    raise WorkflowError(str(error)) from None
logger.info(
    f"Configuration: {' + '.join(CONFIG_FILES)}"
    + (" (the embedded demo)" if CONFIG_FILES == [EMBEDDED_DEMO] else "")
)


SETTINGS = configuration.canonical(config)
"""The configuration, every mapping's keys sorted: the rules' settings stamps and parameters
are made of it, so a configuration that lists its keys in another order reruns nothing."""
TYPED_SETTINGS = Settings.from_config(SETTINGS)
"""The same settings typed (skyrms.settings), for the plan."""
OUTPUTS = SETTINGS["outputs"]
DEMO = SETTINGS["demo"]
CALIBRATION = SETTINGS["calibration"]

if DEMO["enabled"]:
    from skyrms.demo import survey  # only here: it imports astropy.wcs (0.3 s)

    if survey.ensure(DEMO["root"], DEMO["shape"], DEMO["seed"], DEMO["raw_frames"]):
        logger.info(f"Wrote the demo survey under {DEMO['root']}.")

try:  # before any other work: a typo in a path stops the run here, naming the setting
    configuration.check_paths(config)
except InputError as error:
    raise WorkflowError(str(error)) from None
