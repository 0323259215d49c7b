"""The command line: its defaults are the workflow schema's, and its errors are one line."""

import dataclasses

import yaml

from skyrms import cli, config
from skyrms.science.source_mask import MaskParams


def test_schema_defaults_match_the_command_line_defaults():
    schema = yaml.safe_load(config.SCHEMA.read_text())
    sections = schema["properties"]
    defaults = {
        **{k: v["default"] for k, v in sections["source_mask"]["properties"].items()},
        **{k: v["default"] for k, v in sections["background"]["properties"].items()},
    }
    for field in dataclasses.fields(MaskParams):
        assert defaults[field.name] == field.default, field.name


def test_command_line_error_is_one_line(tmp_path, capsys):
    bogus = tmp_path / "notes.fits"
    bogus.write_text("not a FITS file\n")
    assert cli.main(["run", str(bogus), "-o", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith(f"skyrms: error: {bogus}: not a readable FITS file")
    assert not list(tmp_path.glob("notes.*.fits"))
