"""The calibration branch through snakemake: propagated RMS on the demo, and re-runs after syncs."""

import os

import numpy as np
import pytest
from astropy.io import fits

from skyrms.demo import survey
from tests.helpers import master_file, planned_jobs, snakemake

SHAPE = survey.DEFAULT_SHAPE
FRAMES, MASTERS = survey.plan()


def key_of(frame):
    return os.path.relpath(frame.relpath, "scidata")[:-5]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: os.path.basename(f.relpath))
def test_propagated_rms_agrees_with_the_image_and_the_truth(demo_run, frame):
    path = demo_run / "results" / (key_of(frame) + ".proprms.fits")
    propagated = fits.getdata(path)
    image = fits.getdata(demo_run / "results" / (key_of(frame) + ".bkgrms.fits"))
    assert np.median(propagated / image) == pytest.approx(1, abs=0.05)
    truth = survey.true_sigma(frame, SHAPE)
    chosen = survey.frame_masters(frame)
    # Built masters carry their errors and the read noise per pixel: within 1.5%; the hand-made
    # bias only allows one read noise estimated from its pixels: within 5%.
    tolerance = 0.015 if chosen[0].raws else 0.05
    assert np.median(propagated / truth) == pytest.approx(1, abs=tolerance)
    header = fits.getheader(path)
    assert [header[f"IN_{m.imagetyp}"] for m in chosen] == [
        os.path.abspath(master_file(demo_run, m)) for m in chosen
    ]
    assert header["DARKSCAL"] == pytest.approx(frame.exptime / chosen[1].exptime)
    assert header["PRODTYPE"] == "PROPRMS" and header["BUNIT"] == "adu"
    for card, master in zip(("COMBBIAS", "COMBDARK"), chosen, strict=False):  # as each was made
        made = ("median", "COMBMETH") if master.raws else ("mean", "calibration.combine")
        assert (header[card], header.comments[card].split("(")[1][:-1]) == made


def test_summary_has_a_row_per_frame_with_the_ratio(demo_run):
    lines = (demo_run / "results" / "summary.tsv").read_text().splitlines()
    columns = lines[0].split("\t")
    rows = [dict(zip(columns, line.split("\t"), strict=True)) for line in lines[1:]]
    assert len(rows) == len(FRAMES)
    assert all(abs(float(row["ratio"]) - 1) < 0.05 for row in rows)
    assert {row["frame"] for row in rows} == {key_of(f) for f in FRAMES}


def test_choice_is_recorded_per_frame(demo_run):
    frame = FRAMES[0]
    record = (demo_run / "results" / (key_of(frame) + ".masters.json")).read_text()
    for master in survey.frame_masters(frame):
        assert os.path.relpath(master_file(demo_run, master), demo_run) in record


def sync_an_earlier_bias(workdir):
    """A master bias of 7DT02 taken during the night of 2025-11-20, nearer to that night's
    frames than their own; returns its path and the keys of the frames it wins."""
    bias = next(
        m
        for m in MASTERS
        if m.imagetyp == "BIAS" and m.unit == "7DT02" and m.date_obs.startswith("2025-11-20")
    )
    new = workdir / "demo" / os.path.dirname(bias.relpath) / "bias_7DT02_20251120_early.fits"
    with fits.open(master_file(workdir, bias)) as hdul:
        hdul[0].header["DATE-OBS"] = "2025-11-20T03:30:00"
        hdul[0].header["MJD-OBS"] = 60999.145833
        hdul.writeto(new)
    winners = {
        key_of(f) for f in FRAMES if f.unit == "7DT02" and f.date_obs.startswith("2025-11-20")
    }
    assert winners
    return new, winners


def test_a_nearer_master_reruns_exactly_the_frames_it_wins(synced):
    new, winners = sync_an_earlier_bias(synced)
    planned = planned_jobs(snakemake(synced, "--dry-run").stdout)
    rules = ("propagated_rms", "weight", "quicklook")
    expected = {(rule, key) for rule in rules for key in winners}
    expected |= {("summary", None), ("all", None)}
    assert planned == expected
    snakemake(synced)
    for key in winners:
        header = fits.getheader(synced / "results" / (key + ".proprms.fits"))
        assert header["IN_BIAS"] == str(new)
    assert "Nothing to be done" in snakemake(synced, "--dry-run").stdout


FRAME_RULES = ("propagated_rms", "weight", "quicklook")
"""The per-frame jobs a new master reruns."""
NIGHTLY = {"inputs": {"newest_nights": 1, "add_rechosen": True}}


def frame_jobs(dry_run):
    """(rule, key) of the per-frame jobs a dry run lists."""
    return {(rule, key) for rule, key in planned_jobs(dry_run.stdout) if key is not None}


def test_the_nightly_run_takes_the_newest_night_and_exactly_the_frames_masters_change(synced):
    assert frame_jobs(snakemake(synced, "--dry-run", config=NIGHTLY)) == set()
    _, winners = sync_an_earlier_bias(synced)
    never = next(f for f in FRAMES if f.unit == "7DT05" and f.date_obs < "2025-11-21")
    for path in (synced / "results").rglob(os.path.basename(key_of(never)) + ".*"):
        path.unlink()  # its products and logs gone: as a frame synced late would be
    dry = snakemake(synced, "--dry-run", config=NIGHTLY)
    expected = {(rule, key) for rule in FRAME_RULES for key in winners}
    expected |= {(rule, key_of(never)) for rule in ("mask_and_background", *FRAME_RULES)}
    assert frame_jobs(dry) == expected
    newest = sum(f.date_obs.startswith("2025-11-22") for f in FRAMES)
    assert (
        f"{newest} frames in the time selection, 1 earlier ones new or changed, "
        f"{len(winners)} choosing other masters" in dry.stdout
    )


NO_QUICKLOOKS = {"outputs": {"quicklook": False}}


def test_no_master_in_reach_fails_that_frame_only(synced):
    flats = [m for m in MASTERS if m.imagetyp == "FLAT" and m.unit == "7DT05" and m.filter == "r"]
    for flat in flats:  # the masters, and the raw frames of those built from them
        master_file(synced, flat).unlink()
        for raw in flat.raws:
            (synced / "demo" / raw.relpath).unlink()
    for product in (synced / "results").rglob("*.proprms.fits"):
        product.unlink()
    # quick-looks off: they are not what this test is about, and they are a third of the run
    run = snakemake(synced, "--keep-going", config=NO_QUICKLOOKS, check=False)
    assert run.returncode != 0
    failed = [f for f in FRAMES if f.unit == "7DT05" and f.filter == "r"]
    for frame in FRAMES:
        made = (synced / "results" / (key_of(frame) + ".proprms.fits")).exists()
        assert made is (frame not in failed), frame.relpath
    where = "7DT/7DT_C361K_HIGH_1x1/7DT05 within 7 days"
    assert f"{os.path.basename(failed[0].relpath)}: no master flat in r for {where}" in run.stdout


def test_missing_ncombine_takes_the_configured_default_with_a_warning(demo_run):
    for frame in FRAMES:
        bias = survey.frame_masters(frame)[0]
        if bias.ncombine is None:
            break
    else:
        pytest.fail("the demo has no frame calibrated with a bias lacking NCOMBINE")
    log = (demo_run / "results" / "logs" / "propagated_rms" / f"{key_of(frame)}.log").read_text()
    assert f"{bias.relpath}: no usable NCOMBINE; assuming 7" in log
    header = fits.getheader(demo_run / "results" / (key_of(frame) + ".proprms.fits"))
    assert header["NCOMBBIA"] == 7
    assert header["NCOMBSCI"] == (frame.ncombine or 1)
