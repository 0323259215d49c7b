"""The master job's step on small raw frames: what a master holds, and bad groups."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms.io.fitsfiles import InputError
from skyrms.science.combine import CombineParams
from skyrms.steps.masters import build_master

SHAPE = (40, 60)
EGAIN = 0.5


def raw(folder, name, data, **cards):
    header = fits.Header([("DATE-OBS", "2025-11-20T10:00:00"), ("EGAIN", EGAIN),
                          ("TELESCOP", "7DT02")])  # fmt: skip
    header.update(cards)
    path = folder / f"{name}.fits"
    fits.writeto(path, np.asarray(data, np.float32), header)
    return str(path)


@pytest.fixture
def biases(tmp_path):
    rng = np.random.default_rng(3)
    read_noise = np.full(SHAPE, 4.0)  # e-
    read_noise[:5] = 12.0
    frames = [100 + rng.normal(0, 1, SHAPE) * read_noise / EGAIN for _ in range(9)]
    times = [f"2025-11-20T10:0{i}:00" for i in range(9)]
    paths = [raw(tmp_path, f"b{i}", f, IMAGETYP="BIAS", **{"DATE-OBS": t})
             for i, (f, t) in enumerate(zip(frames, times, strict=True))]  # fmt: skip
    return paths, read_noise


def test_a_master_bias_holds_its_read_noise_map_error_and_provenance(tmp_path, biases):
    paths, read_noise = biases
    output = tmp_path / "master_bias.fits"
    build_master("BIAS", paths, output, CombineParams("median"), group="g")
    with fits.open(output) as hdul:
        header = hdul[0].header
        assert header["NCOMBINE"] == 9 and header["COMBMETH"] == "median"
        assert header["DATE-OBS"] == "2025-11-20T10:04:00"  # the frames' mean time
        assert header["PRODTYPE"] == "MASTERBIAS" and header["TELESCOP"] == "7DT02"
        assert abs(np.median(hdul[0].data) - 100) < 0.5
        noise = hdul["RDNOISE"].data  # per pixel from 9 frames: its square is unbiased
        assert abs(np.sqrt(np.mean(noise[5:] ** 2)) / 4.0 - 1) < 0.03
        assert abs(np.sqrt(np.mean(noise[:5] ** 2)) / 12.0 - 1) < 0.05
        error = hdul["ERR"].data  # ADU: sigma sqrt(c / N), c of a median of 9
        expected = 4.0 / EGAIN * np.sqrt(1.4949 / 9)
        assert abs(np.sqrt(np.mean(error[5:] ** 2)) / expected - 1) < 0.03
        table = hdul["INPUTS"].data
        assert list(table["path"]) == paths and all(len(d) == 64 for d in table["sha256"])


def test_a_master_flat_is_normalised_with_a_relative_error(tmp_path):
    rng = np.random.default_rng(4)
    response = rng.normal(1, 0.05, SHAPE)
    bias = raw(tmp_path, "bias", np.full(SHAPE, 100.0), IMAGETYP="BIAS")
    dark = raw(tmp_path, "dark", np.full(SHAPE, 10.0), IMAGETYP="DARK", EXPTIME=10.0)
    flats = [
        raw(tmp_path, f"f{i}", 100 + 1.0 * 3 + rng.poisson(level * response) / 1.0,
            IMAGETYP="FLAT", EXPTIME=3.0, FILTER="r")
        for i, level in enumerate([10000, 20000, 15000, 12000, 18000])
    ]  # fmt: skip
    output = tmp_path / "master_flat.fits"
    build_master("FLAT", flats, output, CombineParams("mean"), group="g", bias=bias, dark=dark)
    with fits.open(output) as hdul:
        flat, error = hdul[0].data, hdul["ERR"].data
        assert abs(np.median(flat) - 1) < 0.02  # normalised by a sample's median
        assert np.corrcoef(flat.ravel(), response.ravel())[0, 1] > 0.99
        assert 0.002 < np.median(error) < 0.02  # about 1/sqrt(5 x 15000)
        assert hdul[0].header["IN_BIAS"].endswith("bias.fits")
        assert hdul[0].header["FILTER"] == "r" and "RDNOISE" not in hdul


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("shape", "b3.fits: raw frame of g is 30x20, the frame is 60x40"),
        ("exptime", "b3.fits: EXPTIME 20.0 differs from 10.0 of"),
        ("truncated", "b3.fits: truncated"),
        ("few", "g: 2 raw frames, at least 3 are needed"),
    ],
)
def test_a_bad_group_fails_with_one_line_naming_the_file_and_the_group(tmp_path, change, message):
    paths = [raw(tmp_path, f"b{i}", np.zeros(SHAPE), IMAGETYP="DARK", EXPTIME=10.0)
             for i in range(5)]  # fmt: skip
    if change == "shape":
        fits.writeto(paths[3], np.zeros((20, 30), np.float32), fits.getheader(paths[3]),
                     overwrite=True)  # fmt: skip
    elif change == "exptime":
        fits.setval(paths[3], "EXPTIME", value=20.0)
    elif change == "truncated":
        data = Path(paths[3]).read_bytes()
        Path(paths[3]).write_bytes(data[: len(data) // 2 + 100])
    elif change == "few":
        paths = paths[:2]
    output = tmp_path / "master.fits"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_master("DARK", paths, output, CombineParams(), group="g")
    assert not output.exists() and not list(tmp_path.glob(".master*"))


def test_a_flat_without_light_is_refused(tmp_path):
    bias = raw(tmp_path, "bias", np.full(SHAPE, 100.0), IMAGETYP="BIAS")
    flats = [raw(tmp_path, f"f{i}", np.full(SHAPE, 100.0), IMAGETYP="FLAT", FILTER="r",
                 EXPTIME=1.0) for i in range(3)]  # fmt: skip
    with pytest.raises(InputError, match=r"f0.fits: flat frame's level is 0 ADU"):
        build_master("FLAT", flats, tmp_path / "m.fits", CombineParams(), group="g", bias=bias)


def test_a_saturated_flat_is_refused(tmp_path):
    bias = raw(tmp_path, "bias", np.full(SHAPE, 100.0), IMAGETYP="BIAS")
    flats = [raw(tmp_path, f"f{i}", np.full(SHAPE, 100.0 + 20000.0 * (1 + (i == 1))),
                 IMAGETYP="FLAT", FILTER="r", EXPTIME=1.0, SATURATE=40000.0)
             for i in range(3)]  # fmt: skip
    with pytest.raises(InputError, match=r"f1.fits: flat frame is saturated \(median 40100 ADU"):
        build_master("FLAT", flats, tmp_path / "m.fits", CombineParams(), group="g", bias=bias)


def test_with_skip_bad_an_unusable_frame_is_left_out_with_a_warning(tmp_path, caplog):
    rng = np.random.default_rng(5)
    paths = [raw(tmp_path, f"d{i}", rng.normal(100, 5, SHAPE), IMAGETYP="DARK", EXPTIME=10.0)
             for i in range(5)]  # fmt: skip
    fits.setval(paths[1], "EXPTIME", value=20.0)
    Path(paths[3]).write_bytes(Path(paths[3]).read_bytes()[:3000])
    output = tmp_path / "master.fits"
    build_master("DARK", paths, output, CombineParams(), group="g", skip_bad=True)
    with fits.open(output) as hdul:
        assert hdul[0].header["NCOMBINE"] == 3
        assert list(hdul["INPUTS"].data["path"]) == [paths[0], paths[2], paths[4]]
    left_out = [r.message for r in caplog.records if "left out" in r.message]
    assert len(left_out) == 2 and "d1.fits: EXPTIME 20.0 differs" in left_out[0]
    with pytest.raises(InputError, match="g: 3 raw frames, at least 4 are needed"):
        build_master("DARK", paths, output, CombineParams(), group="g", skip_bad=True, min_frames=4)
