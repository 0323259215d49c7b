"""The configuration: read config.yaml and validate it against the workflow's schema.

One loader for every reader (the workflow, the ``skyrms`` command, the product
browser), so they all see the same checked settings with the same defaults
(``skyrms/schemas/config.schema.yaml``, shipped inside the package; the workflow's
``workflow/schemas/config.schema.yaml`` links to it); :func:`load_settings` gives them typed
(:class:`skyrms.settings.Settings`).
"""

import os
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from skyrms.io.fitsfiles import InputError
from skyrms.settings import Settings

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
    """The YAML configuration file at ``path`` alone, completed with the schema's defaults and
    validated (see :func:`validated`).

    Raises :class:`InputError` naming the file when it cannot be read, is not YAML or
    breaks the schema.
    """
    return validated(read(path), str(path))


def settings_of(config: dict, source: str = "configuration") -> Settings:
    """The typed settings of ``config``, validated and completed first (in place; see
    :func:`validated`, whose :class:`InputError` names ``source``)."""
    return Settings.from_config(validated(config, source))


def load_settings(path=None) -> Settings:
    """The typed settings of the YAML configuration file at ``path`` (see :func:`load`); the
    schema's defaults alone without one."""
    return settings_of({}) if path is None else settings_of(read(path), str(path))


def read(path) -> dict:
    """The YAML mapping in the file at ``path``, as written (not validated).

    Raises :class:`InputError` naming the file when it cannot be read or is not a YAML
    mapping.
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
    return config


def canonical(value):
    """``value`` with every mapping's keys sorted (a new value).

    Snakemake compares parameters by their text, so settings passed to rules in this form
    rerun nothing when a configuration only lists keys in another order.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def merged(base: dict, top: dict) -> dict:
    """``base`` with ``top``'s settings over it, section by section (a new dict), as Snakemake
    lays --config values over a configuration file."""
    result = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(result.get(key), dict)
        result[key] = merged(result[key], value) if both else value
    return result


def check_workflow_settings(config: dict) -> None:
    """Raise :class:`InputError` naming the setting when a validated configuration lacks what
    the workflow needs besides the schema: inputs.root, calibration.root when calibration
    is enabled, the propagated RMS for a propagated weight."""
    calibration = config["calibration"]["enabled"]
    if not config["inputs"].get("root"):
        raise InputError("inputs.root: not set; the workflow needs the folder of the frames")
    if calibration and not config["calibration"].get("root"):
        raise InputError("calibration.root: not set; or calibration.enabled: false")
    if config["outputs"]["weight"] == "propagated" and not calibration:
        raise InputError(
            "outputs.weight: 'propagated' needs the propagated RMS (calibration.enabled: true)"
        )


FOLDERS = ("inputs.root", "calibration.root", "masters.raw_root")
"""Settings that name a folder to read."""
FILES = ("inputs.path_list", "background.bad_pixel_mask")
"""Settings that name a file to read."""


def setting(config: dict, name: str):
    """The value of a dotted setting such as "inputs.root" (None where absent)."""
    section, key = name.split(".")
    return (config.get(section) or {}).get(key)


def used_paths(config: dict) -> dict[str, str]:
    """The folder and file settings this configuration reads, by name: calibration.root with
    calibration.enabled, masters.raw_root when masters are built too, the others when set."""
    calibration = (config.get("calibration") or {}).get("enabled", True)
    building = calibration and (config.get("masters") or {}).get("enabled", False)
    wanted = {
        "inputs.root": True, "inputs.path_list": True, "background.bad_pixel_mask": True,
        "calibration.root": calibration, "masters.raw_root": building,
    }  # fmt: skip
    return {
        name: setting(config, name) for name, on in wanted.items() if on and setting(config, name)
    }


def check_paths(config: dict, names=(*FOLDERS, *FILES)) -> None:
    """Raise :class:`InputError` naming the setting and the path of the first folder or file
    among the settings ``names`` that the configuration reads (:func:`used_paths`) and that
    does not exist, is not a folder (a file), or cannot be read."""
    for name, path in used_paths(config).items():
        if name in names:
            check_path(name, path)


def check_path(name: str, path: str) -> None:
    """Raise :class:`InputError` naming the setting ``name`` (one of :data:`FOLDERS` and
    :data:`FILES`) and ``path`` when it does not exist, is not a folder (a file), or cannot
    be read."""
    folder = name in FOLDERS
    if not os.path.exists(path):
        raise InputError(f"{name}: {path} does not exist")
    if folder and not os.path.isdir(path):
        raise InputError(f"{name}: {path} is not a folder")
    if not folder and os.path.isdir(path):
        raise InputError(f"{name}: {path} is a folder, not a file")
    if not os.access(path, os.R_OK | (os.X_OK if folder else 0)):
        raise InputError(f"{name}: {path} cannot be read (permission denied)")
