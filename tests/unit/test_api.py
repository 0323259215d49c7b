"""The public API (``import skyrms``): the products of ``skyrms run``, from a path, an array
and a CCDData; the source mask pass by pass; bad input as the command line's one-line
errors."""

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

import skyrms
from skyrms import cli
from skyrms.api.masters import pixels_digest
from skyrms.demo import survey
from skyrms.io.fitsfiles import InputError

SHAPE = (96, 128)
OPTIONS = {"box_size": 32, "sigma": 5.0, "saturation_level": 50000.0}
CIRCLE = skyrms.CircularMask(ra=survey.GALAXY["ra"], dec=survey.GALAXY["dec"], radius_arcsec=20)
WRITE_TIME = {"DATE", "CHECKSUM", "DATASUM"}
STRUCTURE = {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND"}
"""Cards a file's header has and a header in memory has not yet."""
FILE_ONLY = {"IN_FRAME", "FRAMESHA", "IN_MASK"}
"""Cards of products made from a file, which an array has no value for."""


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    """A small demo frame of the galaxy tile (with a WCS)."""
    root = tmp_path_factory.mktemp("api") / "demo"
    survey.write(root, shape=SHAPE, raw_frames=False)
    target = next(f for f in survey.plan()[0] if f.object == survey.GALAXY["object"])
    return root / target.relpath


@pytest.fixture(scope="module")
def run(frame, tmp_path_factory):
    """``skyrms run``'s mask, background and RMS products of the frame, by kind."""
    out = tmp_path_factory.mktemp("run")
    argv = ["run", str(frame), "-o", str(out), "--box-size", "32", "--sigma", "5"]
    argv += ["--saturation-level", "50000", "--circle", str(CIRCLE.ra), str(CIRCLE.dec), "20"]
    assert cli.main(argv) == 0
    return {kind: next(out.glob(f"*.{kind}.fits")) for kind in ("mask", "bkg", "bkgrms")}


def cards(header, leave_out=frozenset()) -> list:
    """A header's cards as (keyword, value, comment), without the structure, the write
    times and ``leave_out``."""
    left_out = STRUCTURE | WRITE_TIME | leave_out
    return [(c.keyword, c.value, c.comment) for c in header.cards if c.keyword not in left_out]


def assert_same_product(path, data, header, leave_out=frozenset()):
    """The product at ``path`` has these pixels and these header cards."""
    with fits.open(path) as hdul:
        assert np.array_equal(hdul[0].data, data)
        assert cards(hdul[0].header, leave_out) == cards(header, leave_out)


def api_chain(image, mask_path=None, **inputs):
    """The chain through the API: source mask, the circle, the maps without that mask (or
    the mask written at ``mask_path``)."""
    mask = skyrms.circular_mask(skyrms.source_mask(image, **inputs, **OPTIONS), [CIRCLE])
    if mask_path:
        mask.write(mask_path)
    maps = skyrms.background(image, mask_path or mask, box_size=32, **inputs)
    return mask, maps


def test_api_on_a_path_writes_the_products_of_skyrms_run(frame, run, tmp_path):
    mask, maps = api_chain(frame, tmp_path / "mask.fits")
    maps.write(tmp_path / "bkg.fits", tmp_path / "bkgrms.fits")
    for kind in ("mask", "bkg", "bkgrms"):
        with fits.open(tmp_path / f"{kind}.fits") as written:
            assert_same_product(run[kind], written[0].data, written[0].header, {"IN_MASK"})
    with fits.open(tmp_path / "bkg.fits") as written:
        assert written[0].header["IN_MASK"] == str(tmp_path / "mask.fits")
    assert mask.header["PRODTYPE"] == "MASK" and mask.drawn == 1


def test_api_on_an_array_with_its_header_makes_the_same_maps(frame, run):
    data, header = fits.getdata(frame), fits.getheader(frame)
    mask, maps = api_chain(data, header=header)
    assert_same_product(run["mask"], mask.mask, mask.header, FILE_ONLY)
    assert_same_product(run["bkg"], maps.background.data, maps.background.header, FILE_ONLY)
    assert_same_product(run["bkgrms"], maps.rms.data, maps.rms.header, FILE_ONLY)
    assert "IN_FRAME" not in mask.header


def test_api_on_a_ccddata_uses_its_wcs_and_makes_the_same_maps(frame, run):
    ccd = CCDData.read(frame, unit="adu")
    assert ccd.wcs is not None
    mask, maps = api_chain(ccd)
    assert_same_product(run["mask"], mask.mask, mask.header, FILE_ONLY)
    assert_same_product(run["bkgrms"], maps.rms.data, maps.rms.header, FILE_ONLY)
    assert isinstance(maps.uncertainty, StdDevUncertainty)
    assert np.array_equal(maps.uncertainty.array, maps.rms.data)


def test_the_mask_of_a_ccddata_is_left_out_of_the_background(frame):
    ccd = CCDData.read(frame, unit="adu")
    ccd.mask = np.zeros(SHAPE, bool)
    ccd.mask[:40, :40] = True
    masked = skyrms.background(ccd, box_size=32)
    plain = skyrms.background(ccd.data, np.asarray(ccd.mask), box_size=32)
    assert np.array_equal(masked.rms.data, plain.rms.data)
    assert masked.rms.header["MASKFRAC"] == pytest.approx(1600 / ccd.data.size, abs=1e-5)


def test_passes_one_at_a_time_reach_the_mask_of_all_passes(frame):
    whole = skyrms.source_mask(frame, **OPTIONS)
    step = skyrms.source_mask_pass(frame, **OPTIONS)
    counts = [step.last_pass.sources]
    while step.stop is None:
        step = step.next_pass()
        counts.append(step.last_pass.sources)
    assert np.array_equal(step.mask, whole.mask)
    assert cards(step.header) == cards(whole.header)
    assert step.passes == whole.passes and counts == [p.sources for p in whole.passes]
    with pytest.raises(InputError, match="the passes have stopped"):
        step.next_pass()


def test_a_pass_goes_on_from_its_own_result_only_once(frame):
    first = skyrms.source_mask_pass(frame, **OPTIONS)
    assert first.header["MSKSTOP"] == "none" and first.header["MSKNITER"] == 1
    assert first.next_pass() is first.next_pass()
    assert first.passes == (first.next_pass().passes[0],)


def cli_error(argv, capsys) -> str:
    """The one-line message of a failing ``skyrms`` command."""
    assert cli.main(argv) == 1
    return capsys.readouterr().err.strip().removeprefix("skyrms: error: ")


def one_line_error(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_bad_input_raises_the_command_lines_one_line_errors(frame, tmp_path, capsys):
    text = tmp_path / "notes.fits"
    text.write_text("not a FITS file\n")
    error = one_line_error(lambda: skyrms.source_mask(text))
    assert error == cli_error(["source-mask", str(text), str(tmp_path / "s.fits")], capsys)
    error = one_line_error(lambda: skyrms.background(frame, box_size=512))
    assert error == cli_error(["background", str(frame), "m", "b", "r", "--box-size", "512"],
                              capsys)  # fmt: skip
    assert "box_size 512 px is larger than the frame (128x96)" in error
    nan, no_pixel = np.full(SHAPE, np.nan, dtype=np.float32), "image: no finite pixel in the frame"
    assert one_line_error(lambda: skyrms.source_mask(nan, box_size=32)) == no_pixel


def test_a_circle_on_the_sky_needs_a_wcs_and_a_complete_circle(frame):
    bare = skyrms.source_mask(fits.getdata(frame), **OPTIONS)
    assert "needs a WCS" in one_line_error(lambda: skyrms.circular_mask(bare, [CIRCLE]))
    assert "needs a centre" in one_line_error(lambda: skyrms.circular_mask(bare, [{"x": 3}]))
    pixel = skyrms.circular_mask(bare.mask, [{"x": 10, "y": 10, "radius_pix": 4}])
    assert pixel.drawn == 1 and not np.shares_memory(pixel.mask, bare.mask)


def test_the_package_exports_its_api_lazily():
    assert skyrms.__version__ and set(skyrms.__all__) <= set(dir(skyrms))
    assert all(getattr(skyrms, name) is getattr(skyrms.api, name) for name in skyrms.__all__)


CALIBRATED = {"mask", "bkg", "bkgrms", "masters", "proprms"}
MAPS_READ = {"IN_BKG", "IN_RMS"}
"""Cards naming the background maps a propagated RMS was made from, files or not."""


@pytest.fixture(scope="module")
def calibrated(frame, tmp_path_factory):
    """``skyrms run``'s products of the frame with the demo's master library, by kind."""
    out = tmp_path_factory.mktemp("calibrated")
    argv = ["run", str(frame), "-o", str(out), "--box-size", "32", "--sigma", "5"]
    argv += ["--saturation-level", "50000", "--circle", str(CIRCLE.ra), str(CIRCLE.dec), "20"]
    assert cli.main([*argv, "--calibration-root", str(library(frame))]) == 0
    return {kind: next(out.glob(f"*.{kind}.*")) for kind in CALIBRATED}


def library(frame):
    """The demo's master library (ready-made masters) of the survey holding ``frame``."""
    return next(p for p in frame.parents if (p / "calib").is_dir()) / "calib"


def test_masters_and_propagated_rms_from_paths_are_skyrms_runs(frame, calibrated, tmp_path):
    _, maps = api_chain(frame, tmp_path / "mask.fits")
    maps.write(tmp_path / "bkg.fits", tmp_path / "bkgrms.fits")
    masters = skyrms.nearest_masters(frame, library(frame))
    result = skyrms.propagated_rms(frame, (tmp_path / "bkg.fits", tmp_path / "bkgrms.fits"),
                                   masters)  # fmt: skip
    result.write(tmp_path / "proprms.fits", tmp_path / "masters.json")
    assert (tmp_path / "masters.json").read_text() == calibrated["masters"].read_text()
    with fits.open(tmp_path / "proprms.fits") as written:
        assert_same_product(calibrated["proprms"], written[0].data, written[0].header, MAPS_READ)
        assert written[0].header["IN_BKG"] == str(tmp_path / "bkg.fits")
    assert result.ratio == result.header["RMSRATIO"]
    assert set(masters.paths) == {"BIAS", "DARK", "FLAT"}


def test_propagated_rms_in_memory_and_from_master_paths_is_the_same(frame, calibrated):
    masters = skyrms.nearest_masters(frame, library(frame))
    _, maps = api_chain(frame)
    from_memory = skyrms.propagated_rms(frame, maps, masters)
    assert_same_product(calibrated["proprms"], from_memory.rms.data, from_memory.header,
                        MAPS_READ)  # fmt: skip
    data, header = fits.getdata(frame), fits.getheader(frame)
    _, array_maps = api_chain(data, header=header)
    from_array = skyrms.propagated_rms(CCDData(data, unit="adu", meta=header), array_maps,
                                       masters.paths)  # fmt: skip
    assert from_array.masters.masters == masters.masters
    assert_same_product(calibrated["proprms"], from_array.rms.data, from_array.header,
                        MAPS_READ | FILE_ONLY)  # fmt: skip


def test_bad_calibration_input_raises_the_command_lines_one_line_errors(frame, tmp_path, capsys):
    missing = tmp_path / "no-library"
    error = one_line_error(lambda: skyrms.nearest_masters(frame, missing))
    argv = ["run", str(frame), "-o", str(tmp_path), "--calibration-root", str(missing)]
    assert error == cli_error(argv, capsys)
    error = one_line_error(lambda: skyrms.nearest_masters(frame, library(frame), max_days=1e-4))
    assert "BIAS" in error and str(frame) in error
    assert "needs the frame's path" in one_line_error(
        lambda: skyrms.nearest_masters(fits.getdata(frame), library(frame))
    )
    assert "no FLAT given" in one_line_error(
        lambda: skyrms.propagated_rms(frame, api_chain(frame)[1], {"BIAS": frame, "DARK": frame})
    )


RUN_OPTIONS = {"box_size": 32, "sigma": 5, "saturation_level": 50000,
               "circle": (CIRCLE.ra, CIRCLE.dec, 20)}  # fmt: skip
OUTPUTS_READ = {"IN_MASK", "IN_BKG", "IN_RMS"}
"""Cards naming products read by later products, in the folder the products went to."""


def test_many_frames_write_skyrms_runs_products_and_report_failures(frame, calibrated,
                                                                    tmp_path, capsys):  # fmt: skip
    bad = tmp_path / "notes.fits"
    bad.write_text("not a FITS file\n")
    out = tmp_path / "out"
    runs = skyrms.run_frames([frame, bad], out, calibration_root=library(frame), **RUN_OPTIONS)
    assert [run.frame for run in runs] == [str(frame), str(bad)]
    assert set(runs[0].products) == CALIBRATED and runs[0].error is None
    for kind in CALIBRATED - {"masters"}:
        with fits.open(runs[0].products[kind]) as written:
            assert_same_product(calibrated[kind], written[0].data, written[0].header,
                                OUTPUTS_READ)  # fmt: skip
    masters = Path(runs[0].products["masters"]).read_text()
    assert masters == calibrated["masters"].read_text()
    assert "1/2 frames" in capsys.readouterr().err
    assert runs[1].products == {} and runs[1].error == cli_error(["run", str(bad), "-o", str(out)],
                                                                 capsys)  # fmt: skip


def test_frames_run_in_the_workflows_layout_are_selected_again(frame, tmp_path):
    root = frame.parents[5]
    frames = [record.path for record in skyrms.select(root, tmp_path, object="T00528")]
    runs = skyrms.run_frames(frames, tmp_path, root=root, progress=False, box_size=32)
    assert frames and all(run.error is None for run in runs)
    found = skyrms.select(root, tmp_path, object="T00528", filter="m600")
    assert {record.status["bkgrms"] for record in found} == {"ok"}
    assert {record.products["bkgrms"] for record in found} <= {run.products["bkgrms"]
                                                               for run in runs}  # fmt: skip


MASTERS_READ = {"IN_BIAS", "IN_DARK", "IN_FLAT"}
"""Cards naming the master files a propagated RMS was made from (none for masters in memory)."""


def read_ccd(path, uncertainty="ERR") -> CCDData:
    """A master's file as a CCDData (ADU), its ERR extension as its uncertainty."""
    return CCDData.read(path, unit="adu", hdu_uncertainty=uncertainty)


def test_propagated_rms_from_masters_in_memory_is_the_one_from_their_files(frame, tmp_path):
    masters = skyrms.nearest_masters(frame, library(frame))
    maps = api_chain(frame)[1]
    in_memory = {imagetyp: read_ccd(path) for imagetyp, path in masters.paths.items()}
    files = {}
    for imagetyp, ccd in in_memory.items():  # what each CCDData holds (no RDNOISE map), as files
        files[imagetyp] = tmp_path / Path(masters.paths[imagetyp]).relative_to(library(frame))
        files[imagetyp].parent.mkdir(parents=True)
        ccd.write(files[imagetyp], hdu_uncertainty="ERR")
    from_files = skyrms.propagated_rms(frame, maps, files)
    from_memory = skyrms.propagated_rms(frame, maps, in_memory)
    assert np.array_equal(from_memory.rms.data, from_files.rms.data)
    assert cards(from_memory.header, MASTERS_READ) == cards(from_files.header, MASTERS_READ)
    assert not MASTERS_READ & set(from_memory.header) and from_memory.header["FLATERR"]
    for imagetyp, pick in from_memory.masters.masters.items():
        on_file = from_files.masters.masters[imagetyp]
        assert pick | {"path": on_file["path"], "sha256": on_file["sha256"]} == on_file
        assert pick["path"] == f"<{imagetyp} array>" and len(pick["sha256"]) == 64
    assert len({pick["sha256"] for pick in from_memory.masters.masters.values()}) == 3


def test_masters_in_memory_and_paths_mixed_give_skyrms_runs_propagated_rms(frame, calibrated):
    masters = skyrms.nearest_masters(frame, library(frame))
    maps = api_chain(frame)[1]
    flat = read_ccd(masters.paths["FLAT"])
    with fits.open(masters.paths["BIAS"]) as bias:  # an HDUList keeps the bias's RDNOISE map
        mixed = {"BIAS": bias, "DARK": masters.paths["DARK"], "FLAT": flat}
        result = skyrms.propagated_rms(frame, maps, mixed)
        as_tuple = skyrms.propagated_rms(frame, maps, mixed | {"FLAT": (flat.data, flat.meta)})
        bare = CCDData(flat.data, unit="adu", meta=flat.meta)  # no uncertainty: no ERR map
        as_ccd = skyrms.propagated_rms(frame, maps, mixed | {"FLAT": bare})
        again = skyrms.propagated_rms(frame, maps, result.masters)  # its masters given back
    assert_same_product(calibrated["proprms"], result.rms.data, result.header,
                        MAPS_READ | MASTERS_READ)  # fmt: skip
    assert result.header["IN_DARK"] == masters.paths["DARK"] and "IN_FLAT" not in result.header
    assert result.masters.masters["DARK"] == masters.masters["DARK"]
    assert np.array_equal(as_tuple.rms.data, as_ccd.rms.data) and not as_tuple.header["FLATERR"]
    assert np.array_equal(again.rms.data, result.rms.data)


def test_bad_masters_in_memory_raise_the_file_paths_one_line_errors(frame, tmp_path):
    masters = skyrms.nearest_masters(frame, library(frame))
    maps = api_chain(frame)[1]

    def error(imagetyp, master) -> str:
        """The error of the propagated RMS with ``master`` for ``imagetyp``."""
        return one_line_error(
            lambda: skyrms.propagated_rms(frame, maps, masters.paths | {imagetyp: master})
        )

    flat, dark = read_ccd(masters.paths["FLAT"]), read_ccd(masters.paths["DARK"], None)
    del dark.meta["EXPTIME"]
    for imagetyp, bad in {"FLAT": flat[:48, :64], "DARK": dark}.items():
        path = tmp_path / "calib" / "7DT" / "telkey" / "7DT02" / imagetyp / "bad.fits"
        path.parent.mkdir(parents=True)
        bad.write(path, hdu_uncertainty="ERR")
        from_file = error(imagetyp, path)
        assert error(imagetyp, bad) == from_file.replace(str(path), f"<{imagetyp} array>")
    assert error("FLAT", flat[:48, :64]) == "<FLAT array>: master is 64x48, the frame is 128x96"
    assert error("DARK", dark) == "<DARK array>: EXPTIME missing"
    assert "the BIAS is a int, not a path" in error("BIAS", 5)
    shape = error("BIAS", (np.zeros(3), {}))
    assert shape == "<BIAS array>: master is not a 2-d image (shape (3,))"


def test_a_master_in_memory_without_a_time_has_its_days_unknown(frame, tmp_path):
    masters = skyrms.nearest_masters(frame, library(frame))
    flat = read_ccd(masters.paths["FLAT"])
    del flat.meta["DATE-OBS"], flat.meta["MJD-OBS"]
    result = skyrms.propagated_rms(frame, api_chain(frame)[1], masters.paths | {"FLAT": flat})
    result.write(tmp_path / "proprms.fits", tmp_path / "masters.json")
    written = json.loads((tmp_path / "masters.json").read_text())
    assert written["FLAT"]["days"] is None and written["FLAT"]["mjd"] is None
    assert written["DARK"] == masters.masters["DARK"]
    header = fits.getheader(tmp_path / "proprms.fits")
    assert header["FLATDAYS"] is None and "unknown" in header.comments["FLATDAYS"]


def test_a_master_in_another_byte_order_or_type_is_hashed_a_block_at_a_time():
    """The digest is of the values as little-endian float32, whatever the array's order
    or type; converting it never takes a copy of the whole map."""
    values = np.random.default_rng(3).normal(100, 5, size=(2048, 1024)).astype("<f4")
    digests = set()
    for data in (values, values.astype(">f4"), values.astype(">f8")):
        hdul = fits.HDUList([fits.PrimaryHDU(data)])
        tracemalloc.start()
        digests.add(pixels_digest(hdul, "BIAS"))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < values.nbytes / 4, data.dtype
    assert len(digests) == 1
