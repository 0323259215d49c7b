"""Typed settings (skyrms.settings): the schema's defaults in frozen dataclasses, and the one
mapping from the configuration to the science's parameters."""

import copy
import dataclasses

import pytest

from skyrms import config
from skyrms.io.discovery import Selection
from skyrms.io.fitsfiles import InputError
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import InvalidSpec
from skyrms.science.combine import CombineParams
from skyrms.science.source_mask import MaskParams
from skyrms.settings import (
    BackgroundSection,
    CalibrationSection,
    CircularMask,
    MastersSection,
    Settings,
    SourceMaskSection,
    immutable,
)
from tests.helpers import REPO

SURVEY = {
    "inputs": {"root": "frames", "object": ["T00528", "T01462"], "paths": ["frames/a.fits"]},
    "background": {"box_size": 64, "filter_size": 5, "bad_pixel_mask": "bpm.fits",
                   "blank_value": 0, "blank_run": 8},
    "source_mask": {"sigma": 2.5, "minarea": 3, "grow_sigma": 2, "mask_level": 0.2,
                    "saturation_level": 60000, "max_iterations": 4},
    "circular_masks": [
        {"name": "galaxy", "object": "T01462", "ra": 49.2235, "dec": -27.6561, "radius_arcsec": 32},
        {"x": 512, "y": 300, "radius_pix": 20},
    ],
    "calibration": {"root": "calib", "max_days": {"bias": 1, "dark": 2.5, "flat": 30},
                    "gain": 1.3, "default_ncombine": {"master": 9}},
    "masters": {"method": "minmax", "sigma": 2.0, "nlow": 2, "nhigh": 0},
}  # fmt: skip
"""A configuration that sets most settings to other values than the schema's defaults."""


def survey() -> dict:
    """A copy of SURVEY, which validation completes in place."""
    return copy.deepcopy(SURVEY)


def test_every_setting_arrives_with_the_schema_default():
    defaults = config.validated({})
    settings = config.settings_of({})
    assert settings == config.load_settings()
    for name, section in defaults.items():
        if name == "circular_masks":
            assert settings.circular_masks == ()
            continue
        typed = getattr(settings, name)
        fields = {field.name for field in dataclasses.fields(typed)}
        assert set(section) <= fields, name
        for key in fields - {"max_days", "default_ncombine"}:
            assert getattr(typed, key) == immutable(section.get(key)), f"{name}.{key}"
    assert settings.inputs.root is None and settings.calibration.root is None
    assert dict(settings.calibration.max_days) == {"BIAS": 7.0, "DARK": 7.0, "FLAT": 7.0}
    assert settings.calibration.default_ncombine.science == 1
    assert settings.calibration.default_ncombine.master == 1


def test_a_configuration_file_arrives_in_the_sections():
    settings = config.load_settings(REPO / "config.yaml")
    assert settings.demo.shape == (683, 1024) and settings.demo.enabled
    assert settings.inputs.observatory == "7DT" and settings.inputs.paths == ()
    assert settings.background.box_size == 64
    assert settings.calibration.dark_exptime == "nearest"
    assert settings.calibration.default_ncombine.master == 7
    assert settings.circular_masks == (
        CircularMask(name="galaxy", object="T01462", ra=49.2235, dec=-27.6561, radius_arcsec=32),
    )


def test_a_section_and_its_lists_are_frozen():
    settings = config.settings_of(survey())
    assert settings.inputs.object == ("T00528", "T01462")
    assert settings.inputs.paths == ("frames/a.fits",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.background = settings.background
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.calibration.gain = 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.calibration.default_ncombine.master = 1
    with pytest.raises(TypeError):
        settings.calibration.max_days["FLAT"] = 1.0


def test_the_science_parameters_are_those_the_workflow_made_from_the_configuration():
    """What the rules' scripts built from the configuration's mappings before the sections."""
    validated = config.validated(survey())
    settings = Settings.from_config(validated)
    background, masters = validated["background"], validated["masters"]
    assert settings.source_mask.params() == MaskParams(**validated["source_mask"])
    assert settings.background.mesh() == BackgroundParams(
        box_size=background["box_size"], filter_size=background["filter_size"]
    )
    assert settings.background.invalid() == InvalidSpec(
        bad_pixel_mask=background["bad_pixel_mask"],
        blank_value=background["blank_value"],
        blank_run=background["blank_run"],
    )
    assert settings.circle_specs() == validated["circular_masks"]
    assert settings.masters.combination() == CombineParams(
        method=masters["method"], sigma=masters["sigma"], nlow=masters["nlow"],
        nhigh=masters["nhigh"],
    )  # fmt: skip
    assert dict(settings.calibration.max_days) == {"BIAS": 1.0, "DARK": 2.5, "FLAT": 30.0}
    assert settings.calibration.default_ncombine.master == 9
    assert settings.inputs.selection() == Selection.from_patterns(validated["inputs"])
    assert settings.inputs.selection().object == ("T00528", "T01462")


@pytest.mark.parametrize(
    ("section", "kind"),
    [("background", BackgroundSection), ("source_mask", SourceMaskSection),
     ("calibration", CalibrationSection), ("masters", MastersSection)],
)  # fmt: skip
def test_a_rule_builds_its_section_from_its_parameters_as_the_whole_configuration_does(
    section, kind
):
    """A rule's parameters are its section's validated mapping, its keys sorted."""
    validated = config.validated(survey())
    parameters = {key: validated[section][key] for key in sorted(validated[section])}
    assert kind.from_config(parameters) == getattr(Settings.from_config(validated), section)


def test_the_built_masters_go_to_masters_root_else_into_the_results():
    assert config.settings_of({}).built_masters_root == "results/masters"
    moved = config.settings_of({"outputs": {"results": "out/"}, "masters": {"root": ""}})
    assert moved.built_masters_root == "out/masters"
    assert config.settings_of({"masters": {"root": "built"}}).built_masters_root == "built"


def test_a_bad_value_is_one_line_naming_the_file_and_the_setting(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("calibration: {max_days: {bias: 1, dark: 0, flat: 3}}\n")
    with pytest.raises(InputError) as error:
        config.load_settings(path)
    assert str(error.value).startswith(f"{path}: calibration.max_days: ")
    assert "\n" not in str(error.value)
    path.write_text("masters: {method: mode}\n")
    with pytest.raises(InputError) as error:
        config.load_settings(path)
    assert str(error.value) == (
        f"{path}: masters.method: 'mode' is not one of ['mean', 'median', 'sigma_clip', 'minmax']"
    )
