"""Nightly operation: after each data sync only what is stale rebuilds (real snakemake)."""

import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
from astropy.io import fits
from conftest import REPO, planned_jobs, snakemake

from skyrms import demo

FRAMES, _ = demo.plan()
CHAIN = {"mask_and_background", "propagated_rms"}
TABLES = {("rms_ratios", None), ("all", None)}


def key_of(frame):
    return os.path.relpath(frame.relpath, "scidata")[:-5]


def dry_run(workdir, config=None):
    return planned_jobs(snakemake(workdir, "--dry-run", config=config).stdout)


def inputs(workdir):
    return sorted((workdir / "demo").rglob("*.fits"))


def test_rewritten_inputs_with_new_times_rebuild_nothing(synced):
    for path in inputs(synced):
        copy = path.with_name(path.name + ".copy")
        shutil.copyfile(path, copy)  # a copy that does not keep times
        os.replace(copy, path)
        os.utime(path, (time.time() + 60, time.time() + 60))
    assert dry_run(synced) == set()


def test_a_frame_whose_pixels_changed_rebuilds_alone(synced):
    frame = FRAMES[3]
    with fits.open(synced / "demo" / frame.relpath, mode="update") as hdul:
        hdul[0].data[100:110, 200:210] += 500.0
    assert dry_run(synced) == {(rule, key_of(frame)) for rule in CHAIN} | TABLES


def test_newly_synced_frames_run_alone(synced):
    frame = FRAMES[0]
    source = synced / "demo" / frame.relpath
    new = source.with_name(source.name.replace("_023108_", "_023999_"))
    shutil.copy(source, new)
    new_key = os.path.relpath(new, synced / "demo" / "scidata")[:-5]
    planned = dry_run(synced)
    assert planned == {(rule, new_key) for rule in CHAIN} | TABLES | {("frames", None)}


def test_a_changed_parameter_reruns_the_rules_it_affects(synced):
    everything = {key_of(f) for f in FRAMES}
    circles = [{"name": "star", "x": 100, "y": 100, "radius_pix": 10}]
    planned = dry_run(synced, config={"circular_masks": circles})
    assert planned == {(r, k) for r in CHAIN for k in everything} | TABLES
    planned = dry_run(synced, config={"calibration": {"dark_bias": "independent"}})
    assert planned == {("propagated_rms", k) for k in everything} | TABLES
    planned = dry_run(synced, config={"background": {"box_size": 96}})
    assert planned == {(r, k) for r in CHAIN for k in everything} | TABLES


def test_a_killed_run_resumes_and_ends_with_the_same_products(demo_run, tmp_path):
    workdir = tmp_path / "killed"
    shutil.copytree(demo_run / "demo", workdir / "demo", symlinks=True)
    (workdir / "config.yaml").write_text((REPO / "config.yaml").read_text())
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--cores", "2",
    ]  # fmt: skip
    run = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    while not list(workdir.glob("results/**/*.bkg.fits")) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # snakemake and its running jobs, mid-run
    run.wait()
    made = [p for p in (workdir / "results").rglob("*.fits") if not p.name.startswith(".")]
    assert len(made) < 5 * len(FRAMES), "the run was not interrupted"
    for product in made:  # whatever sits at a product path is complete
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with fits.open(product, checksum=True) as hdul:
                assert hdul[-1].data is not None
    snakemake(workdir, "--unlock")
    snakemake(workdir)
    for frame in FRAMES:
        for suffix in (".mask.fits", ".bkg.fits", ".bkgrms.fits", ".proprms.fits"):
            mine = fits.getdata(workdir / "results" / (key_of(frame) + suffix), ext=-1)
            clean = fits.getdata(demo_run / "results" / (key_of(frame) + suffix), ext=-1)
            assert np.array_equal(mine, clean), (frame.relpath, suffix)
    assert not [p for p in (workdir / "results").rglob(".*.tmp")]
