"""Nightly operation: after each data sync only what is stale rebuilds (real snakemake)."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits

from benchmarks.workflowrun import run_workflow
from skyrms.demo import survey
from tests.helpers import REPO, planned_jobs, snakemake

FRAMES, _ = survey.plan()
CHAIN = {"mask_and_background", "propagated_rms", "weight", "quicklook"}
CALIBRATED = {"propagated_rms", "weight", "quicklook"}
TABLES = {("summary", None), ("all", None)}


def key_of(frame):
    return os.path.relpath(frame.relpath, "scidata")[:-5]


def dry_run(workdir, config=None):
    return planned_jobs(snakemake(workdir, "--dry-run", config=config).stdout)


def inputs(workdir):
    """The demo's input files: frames, raw frames, hand-made masters (the masters the
    workflow builds go into results/masters)."""
    return sorted((workdir / "demo").rglob("*.fits"))


def test_rewritten_inputs_with_new_times_rebuild_nothing(synced):
    for path in inputs(synced):
        copy = path.with_name(path.name + ".copy")
        shutil.copyfile(path, copy)  # a copy that does not keep times
        os.replace(copy, path)
        os.utime(path, (time.time() + 60, time.time() + 60))
    assert dry_run(synced) == set()


def test_built_masters_copied_without_their_times_rebuild_nothing(synced):
    """A copy of the masters folder that does not keep times (``cp -r``, a restore from
    backup): the built masters are known by their content, as the library's are, so
    neither they nor the frames made from them are rebuilt, whatever order the copies'
    times come in (here biases, the first built, become the newest)."""
    built = synced / "results" / "masters"
    copy = synced / "masters-copy"
    subprocess.run(["cp", "-r", str(built), str(copy)], check=True)
    shutil.rmtree(built)
    copy.rename(built)
    masters = sorted(built.rglob("*.fits"), key=lambda path: "BIAS" in path.parts)
    for offset, path in enumerate(masters):
        os.utime(path, (time.time() + 60 + offset, time.time() + 60 + offset))
    assert dry_run(synced) == set()


def test_a_new_copy_of_the_workflow_remakes_nothing(synced, tmp_path):
    """An upgrade or a fresh clone gives every rule script a new modification time; the
    products of the run before are still up to date (the profile leaves out Snakemake's
    "code" trigger: what makes products is the package, and its version is in them)."""
    copy = tmp_path / "clone"
    copy.mkdir()
    for name in ("Snakefile", "config.yaml", "workflow", "scripts", "skyrms", "profiles", "envs"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name, symlinks=True)
        else:
            shutil.copy(source, copy / name)
    for script in (copy / "scripts").glob("*.py"):
        os.utime(script, (time.time() + 60, time.time() + 60))
    _, result = run_workflow(synced, "--dry-run", repo=copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert planned_jobs(result.stdout) == set()


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
    # the run wrote its config.yaml with sorted keys; the shipped file has its own order
    (synced / "config.yaml").write_text((REPO / "config.yaml").read_text())
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(synced), "--cores", "2", "--dry-run"]  # fmt: skip
    same = subprocess.run(command, capture_output=True, text=True, check=True)
    assert planned_jobs(same.stdout) == set()  # the same settings in another order
    planned = dry_run(synced, config={"calibration": {"dark_bias": "independent"}})
    assert planned == {(r, k) for r in CALIBRATED for k in everything} | TABLES
    planned = dry_run(synced, config={"background": {"box_size": 96}})
    assert planned == {(r, k) for r in CHAIN for k in everything} | TABLES


def products(workdir):
    """The per-frame product files made so far."""
    return [p for p in (workdir / "results" / "7DT").rglob("*") if not p.name.startswith(".")]


def assert_every_product_complete(results):
    """Whatever sits at a product path opens, with valid FITS checksums or as JSON."""
    for product in results.rglob("*"):
        if product.name.startswith(".") or not product.is_file():
            continue
        if product.name.endswith(".fits"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with fits.open(product, checksum=True) as hdul:
                    assert hdul[-1].data is not None, product
        elif product.name.endswith(".json"):
            json.loads(product.read_text())


def test_killed_ten_times_at_random_moments_then_completes_with_the_same_products(
    demo_run, tmp_path
):
    """SIGKILL to snakemake and its jobs (as when a machine goes down), ten times in a row."""
    workdir = tmp_path / "killed"
    shutil.copytree(demo_run / "demo", workdir / "demo", symlinks=True)
    twins = {}  # 22 frames: four demo frames synced twice under another name
    for frame in FRAMES[:4]:
        source = workdir / "demo" / frame.relpath
        twin = source.with_name(source.stem + "_again.fits")
        shutil.copy(source, twin)
        twins[key_of(frame) + "_again"] = key_of(frame)
    settings = yaml.safe_load((REPO / "config.yaml").read_text())
    settings["outputs"]["quicklook"] = False  # PNGs are not checked here: a quicker run
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--cores", "2",
    ]  # fmt: skip
    moments = random.Random(20261125)
    for _ in range(10):
        # a random moment: after 0-3 more products, then up to 1.5 s more
        target = len(products(workdir)) + moments.randint(0, 3)
        run = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        while len(products(workdir)) < target and run.poll() is None:
            time.sleep(0.05)
        time.sleep(moments.uniform(0.0, 1.5))
        assert run.poll() is None, "the run ended before it was killed"
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        assert_every_product_complete(workdir / "results")
        snakemake(workdir, "--unlock", config=settings)
    snakemake(workdir, config=settings)
    keys = {key_of(frame): key_of(frame) for frame in FRAMES} | twins
    for key, clean_key in keys.items():
        for suffix in (".mask.fits", ".bkg.fits", ".bkgrms.fits", ".proprms.fits"):
            mine = fits.getdata(workdir / "results" / (key + suffix), ext=-1)
            clean = fits.getdata(demo_run / "results" / (clean_key + suffix), ext=-1)
            assert np.array_equal(mine, clean), (key, suffix)
    assert not [p for p in (workdir / "results").rglob(".*.tmp")]


def test_a_second_run_on_the_same_products_is_refused_and_disjoint_runs_both_finish(
    demo_run, tmp_path
):
    workdir = tmp_path / "shared"
    shutil.copytree(demo_run / "demo", workdir / "demo", symlinks=True)
    masters = Path("results", "masters")  # built: the two runs would both want to build them
    shutil.copytree(demo_run / masters, workdir / masters, symlinks=True)
    settings = yaml.safe_load((REPO / "config.yaml").read_text())
    settings["outputs"]["quicklook"] = False  # not what this test is about: a quicker run
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--cores", "1",
    ]  # fmt: skip
    targets = [f"results/{key_of(frame)}.proprms.fits" for frame in FRAMES[:2]]
    both = [subprocess.Popen([*command, target], stdout=subprocess.PIPE, text=True)
            for target in targets]  # fmt: skip
    said = [run.communicate()[0][-2000:] for run in both]
    assert [run.returncode for run in both] == [0, 0], said
    assert all((workdir / target).exists() for target in targets)
    everything = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    locks = workdir / ".snakemake" / "locks"
    while not (locks.is_dir() and any(locks.iterdir())) and everything.poll() is None:
        time.sleep(0.05)
    refused = snakemake(workdir, config=settings, check=False)
    assert everything.wait() == 0
    assert refused.returncode != 0
    assert "Directory cannot be locked" in refused.stdout
    assert_every_product_complete(workdir / "results")
    assert "Nothing to be done" in snakemake(workdir, config=settings).stdout
