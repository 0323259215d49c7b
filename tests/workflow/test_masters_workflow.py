"""Masters built by the workflow from the demo's raw frames, chosen like any master, rebuilt
incrementally.

The shipped configuration builds most of the demo's masters from its raw frames (15 biases, 5
darks or 5 flats a master, median) before the chain; one bias, 7DT05's after the second night,
is hand-made (no NCOMBINE, no read-noise map). The masters the workflow builds are those the
demo's science frames were calibrated with (truth/masters.tsv records their pixels' digests).
One more raw bias then reruns exactly the masters built on it and the frames whose propagated
RMS depends on them.
"""

import csv
import json
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms.demo import calibration, instrument, survey
from skyrms.io.headerindex import sha256_of
from skyrms.io.keywords import CONTSHA
from tests.helpers import master_file, planned_jobs, snakemake

SHAPE = survey.DEFAULT_SHAPE
FRAMES, MASTERS = survey.plan()
BUILT = [m for m in MASTERS if m.raws]


def key_of(frame):
    return os.path.relpath(frame.relpath, "scidata")[:-5]


def test_the_demo_masters_are_built_from_its_raw_frames(demo_run):
    with open(demo_run / "demo/truth/masters.tsv", newline="") as table:
        recorded = {
            row["relpath"]: row["data_sha256"] for row in csv.DictReader(table, delimiter="\t")
        }
    library = [fits.getheader(path) for path in (demo_run / "demo" / "calib").rglob("*.fits")]
    contents = {}  # built master path -> the content digest it records
    assert not any(header.get("PRODTYPE", "").startswith("MASTER") for header in library)
    for master in BUILT:
        path = master_file(demo_run, master)  # built into results/masters, not the library
        assert calibration.data_digest(path) == recorded[master.relpath], master.relpath
        log = demo_run / "results/logs/master" / (master.relpath[len("calib/") : -5] + ".log")
        assert f"master of {len(master.raws)} frames (median)" in log.read_text()
        with fits.open(path) as hdul:
            header = hdul[0].header
            assert (header["NCOMBINE"], header["COMBMETH"]) == (len(master.raws), "median")
            assert header["DATE-OBS"] == master.date_obs
            inputs = hdul["INPUTS"].data
            assert [os.path.basename(p) for p in inputs["path"]] == [
                os.path.basename(raw.relpath) for raw in master.raws
            ]
            raws = [demo_run / "demo" / raw.relpath for raw in master.raws]
            assert list(inputs["sha256"]) == [sha256_of(raw) for raw in raws]
            used = calibration.prerequisites(master, MASTERS)
            for kind, prerequisite in used.items():
                assert header[f"IN_{kind}"] == str(master_file(demo_run, prerequisite))
            assert ("RDNOISE" in hdul) == (master.imagetyp == "BIAS")
            assert header.comments["CONTSHA"] in ("", CONTSHA.comment)  # never cut
            contents[str(path)] = header["CONTSHA"]
    recorded = [
        choice
        for record in (demo_run / "results").rglob("*.masters.json")
        for choice in json.loads(record.read_text()).values()
        if choice["path"].startswith("results/masters/")
    ]
    assert recorded and all(contents[str(demo_run / c["path"])] == c["sha256"] for c in recorded)


def test_the_read_noise_map_makes_the_noisiest_pixels_right(demo_run):
    """Frames calibrated with a built bias get its read-noise map: their 1% noisiest pixels'
    propagated RMS is within 5% of the truth; those calibrated with the hand-made bias get one
    read noise for all pixels and miss them by more than 20%."""
    for frame in FRAMES:
        path = demo_run / "results" / (key_of(frame) + ".proprms.fits")
        propagated, header = fits.getdata(path, header=True)
        truth = survey.true_sigma(frame, SHAPE)
        read_noise = instrument.camera(frame.unit, SHAPE).read_noise
        noisiest = read_noise >= np.quantile(read_noise, 0.99)
        ratio = np.median(propagated[noisiest] / truth[noisiest])
        if survey.frame_masters(frame)[0].raws:
            assert header["RDNOISE"] == "map" and header["BIASERR"] is True
            assert ratio == pytest.approx(1, abs=0.05), frame.relpath
        else:
            assert isinstance(header["RDNOISE"], float)
            assert ratio < 0.8, frame.relpath


def test_one_more_raw_bias_reruns_its_masters_and_exactly_their_frames(synced):
    """A raw bias synced late into 7DT02's group of the night 2025-11-21: a dry run lists that
    master, the two darks corrected with it, and exactly the frames calibrated with them."""
    bias = next(m for m in BUILT if m.imagetyp == "BIAS" and m.relpath.endswith("2025-11-21.fits"))
    last = synced / "demo" / bias.raws[-1].relpath
    when = datetime.fromisoformat(bias.raws[-1].date_obs) + timedelta(seconds=20)
    late = last.with_name(last.name.replace(last.stem[-6:], f"{when:%H%M%S}"))
    shutil.copy2(last, late)
    with fits.open(late, mode="update") as hdul:
        hdul[0].header["DATE-OBS"] = when.isoformat()
        hdul[0].header["MJD-OBS"] += 20 / 86400
        hdul[0].data = hdul[0].data[::-1]  # other pixels, as another exposure would have
    dry = snakemake(synced, "--dry-run")
    built = {Path(m).as_posix() for m in re.findall(r"wildcards: master=(\S+)", dry.stdout)}
    darks = {m.relpath for m in BUILT if calibration.prerequisites(m, MASTERS).get("BIAS") == bias}
    assert len(darks) == 2
    assert built == {relpath[len("calib/") : -5] for relpath in {bias.relpath, *darks}}
    users = {key_of(f) for f in FRAMES
             if {m.relpath for m in survey.frame_masters(f)} & {bias.relpath, *darks}}  # fmt: skip
    assert len(users) == 5  # 7DT02's frames of the second night
    jobs = planned_jobs(dry.stdout)
    assert {key for rule, key in jobs if rule == "propagated_rms"} == users
    assert {rule for rule, _ in jobs} == {
        "master",
        "propagated_rms",
        "weight",
        "quicklook",
        "summary",
        "all",
    }
    snakemake(synced)
    with fits.open(master_file(synced, bias)) as hdul:
        assert hdul[0].header["NCOMBINE"] == len(bias.raws) + 1
    assert "Nothing to be done" in snakemake(synced, "--dry-run").stdout
