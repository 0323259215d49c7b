"""One configuration loader: config.yaml validated against the schema, for every reader."""

import dataclasses

import pytest
import yaml

from skyrms import cli, config
from skyrms.io.fitsfiles import InputError
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import InvalidSpec
from skyrms.science.source_mask import MaskParams
from tests.helpers import REPO


def test_the_shipped_configuration_is_valid_and_gets_every_default():
    settings = config.load(REPO / "config.yaml")
    assert settings["source_mask"]["grow_sigma"] == 1.5
    assert settings["calibration"]["default_ncombine"]["science"] >= 1
    assert settings["outputs"]["results"] == "results"


@pytest.mark.parametrize(
    ("kind", "section"),
    [(MaskParams, "source_mask"), (BackgroundParams, "background"), (InvalidSpec, "background")],
)
def test_the_science_defaults_are_the_schema_defaults(kind, section):
    """The CLI without --configfile uses the dataclasses' defaults: the workflow's own."""
    defaults = config.validated({"inputs": {"root": "x"}})[section]
    for field in dataclasses.fields(kind):
        assert getattr(kind(), field.name) == defaults[field.name], field.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inputs: {root: x}\nbackground: {box_size: -3}\n",
         "bad.yaml: background.box_size: -3 is less than the minimum of 1"),
        ("inputs: {root: x}\nsource_mask: {sigmaa: 3}\n",
         "bad.yaml: source_mask: Additional properties are not allowed ('sigmaa' was unexpected)"),
        ("inputs: {root: 3}\n", "bad.yaml: inputs.root: 3 is not of type 'string'"),
        ("- a list\n", "bad.yaml: not a configuration (a YAML mapping is needed)"),
    ],
)  # fmt: skip
def test_a_bad_configuration_is_one_line_naming_the_file_and_the_setting(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        config.load(path)
    assert str(error.value) == f"{path.parent}/{message}"


@pytest.mark.parametrize("command", [["run", "frame.fits"], ["products"]])
def test_the_command_line_validates_the_configuration_too(tmp_path, capsys, command):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"inputs": {"root": "x"}, "background": {"box_size": 0}}))
    assert cli.main([*command, "--configfile", str(path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"skyrms: error: {path}: background.box_size: 0 is less than the minimum of 1"
    )


def test_the_folders_and_files_a_configuration_reads_are_checked(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "list.txt").write_text("")
    settings = config.validated(
        {"inputs": {"root": str(tmp_path / "frames"), "path_list": str(tmp_path / "list.txt")},
         "calibration": {"root": str(tmp_path / "calib")}, "masters": {"raw_root": "nowhere"}}
    )  # fmt: skip
    with pytest.raises(InputError, match=f"^calibration.root: {tmp_path}/calib does not exist$"):
        config.check_paths(settings)
    settings["calibration"]["enabled"] = False  # then neither the library nor raw frames
    config.check_paths(settings)
    settings["background"]["bad_pixel_mask"] = str(tmp_path / "frames")
    with pytest.raises(InputError, match="^background.bad_pixel_mask: .* is a folder, not a file$"):
        config.check_paths(settings)
    settings["inputs"]["root"] = str(tmp_path / "list.txt")
    with pytest.raises(InputError, match="^inputs.root: .*list.txt is not a folder$"):
        config.check_paths(settings)


def test_a_one_frame_configuration_needs_no_input_root_but_the_workflow_does():
    settings = config.validated({"background": {"box_size": 64}})  # what skyrms run needs
    with pytest.raises(InputError, match="^inputs.root: not set"):
        config.check_workflow_settings(settings)
    settings["inputs"]["root"] = "frames"
    with pytest.raises(InputError, match="^calibration.root: not set"):
        config.check_workflow_settings(settings)
    settings["calibration"]["enabled"] = False
    config.check_workflow_settings(settings)
    settings["outputs"]["weight"] = "propagated"
    with pytest.raises(InputError, match="^outputs.weight: 'propagated' needs the propagated"):
        config.check_workflow_settings(settings)
