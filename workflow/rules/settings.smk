"""Settings: the configuration, validated, and the settings every rule reads.

At parse time: validates config.yaml against workflow/schemas/config.schema.yaml
(skyrms.config, as the CLI and the browser do), and writes the demo survey
when demo.enabled and it is not there yet.
"""

import os

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version

from skyrms import config as configuration
from skyrms.demo import survey
from skyrms.io.fitsfiles import InputError

min_version("9.0")

try:
    configuration.validated(config, "config")
except InputError as error:
    raise WorkflowError(str(error)) from None


def canonical(value):
    """``value`` with every mapping's keys sorted.

    Snakemake compares parameters by their text, so settings passed to rules
    in this form rerun nothing when config.yaml only lists keys in another order.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


SETTINGS = canonical(config)
ROOT = SETTINGS["inputs"]["root"]
OUTPUTS = SETTINGS["outputs"]
RESULTS = OUTPUTS["results"]
OUTDIR = ROOT if OUTPUTS["beside_inputs"] else RESULTS
DEMO = SETTINGS["demo"]
CALIBRATION = SETTINGS["calibration"]
if OUTPUTS["weight"] == "propagated" and not CALIBRATION["enabled"]:
    raise WorkflowError(
        "outputs.weight: 'propagated' needs the propagated RMS (calibration.enabled: true)"
    )

if DEMO["enabled"] and survey.ensure(
    DEMO["root"], DEMO["shape"], DEMO["seed"], DEMO["raw_frames"]
):
    logger.info(f"Wrote the demo survey under {DEMO['root']}.")
