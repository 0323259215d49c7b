"""The configuration: read config.yaml and validate it against the workflow's schema.

One loader for every reader (the workflow, the ``skyrms`` command, the product
browser), so they all see the same checked settings with the same defaults
(``skyrms/schemas/config.schema.yaml``, shipped inside the package; the workflow's
``workflow/schemas/config.schema.yaml`` links to it).
"""

from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from skyrms.io.fitsfiles import InputError

SCHEMA = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"
"""The configuration's JSON schema (YAML), with the defaults of every setting."""


def validated(config: dict, source: str = "configuration") -> dict:
    """``config`` checked against :data:`SCHEMA`, missing settings filled with the defaults
    (in place; returned for convenience). Raises :class:`InputError` naming ``source``, the
    setting and the problem in one line."""
    try:
        validate(config, str(SCHEMA), set_default=True)
    except WorkflowError as error:
        raise InputError(f"{source}: {schema_problem(error)}") from None
    return config


def schema_problem(error: WorkflowError) -> str:
    """The schema violation behind a validation error, as 'setting: problem' (snakemake
    raises it while handling jsonschema's ValidationError)."""
    cause = error.__context__
    if hasattr(cause, "absolute_path") and hasattr(cause, "message"):
        where = ".".join(str(part) for part in cause.absolute_path) or "top level"
        return f"{where}: {cause.message}"
    return " ".join(str(error).split())


def load(path) -> dict:
    """The YAML configuration file at ``path``, validated (see :func:`validated`).

    Raises :class:`InputError` naming the file when it cannot be read, is not YAML or
    breaks the schema.
    """
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except OSError as error:
        raise InputError(f"{path}: cannot read the configuration ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not YAML ({' '.join(str(error).split())})") from None
    if not isinstance(config, dict):
        raise InputError(f"{path}: not a configuration (a YAML mapping is needed)")
    return validated(config, str(path))
