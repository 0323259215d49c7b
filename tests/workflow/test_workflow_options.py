"""Selecting frames, writing beside them, and refusing bad configurations, via snakemake."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from skyrms import cli
from skyrms.demo import survey
from tests.helpers import REPO, library_copy, snakemake

FRAMES, _ = survey.plan()
CHAIN = (".mask.fits", ".bkg.fits", ".bkgrms.fits")
BESIDE = (*CHAIN, ".masters.json", ".proprms.fits", ".weight.fits")


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def archive(demo_run, tmp_path):
    """A real (non-demo) archive: the demo frames of tile T01462, unit 7DT02, copied."""
    root = tmp_path / "scidata"
    library_copy(demo_run, tmp_path / "calib")
    for frame in FRAMES:
        if frame.object == "T01462" and frame.unit == "7DT02":
            target = root / Path(frame.relpath).relative_to("scidata")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(demo_run / "demo" / frame.relpath, target)
    return root


def real_data(root, **inputs):
    """Configuration for an archive at ``root`` with the demo's master library beside it."""
    return {
        "demo": {"enabled": False},
        "masters": {"enabled": False},  # the library holds the demo's built masters
        "inputs": {"root": str(root), **inputs},
        "calibration": {"root": str(root.parent / "calib")},
    }


def test_products_beside_the_selected_frames_compressed_on_request_inputs_untouched(
    archive, tmp_path
):
    frames = sorted(archive.rglob("*.fits"))
    before = {f: digest(f) for f in frames}
    outputs = {"beside_inputs": True, "compress": True, "weight": "image"}
    snakemake(
        tmp_path / "run", config=real_data(archive, pattern="*_100.fits") | {"outputs": outputs}
    )
    for frame in frames:
        made = [frame.with_name(frame.name[:-5] + s) for s in BESIDE]
        assert [p.exists() for p in made] == [frame.name.endswith("_100.fits")] * len(BESIDE)
        assert digest(frame) == before[frame]
        for product in (p for p in made if p.suffix == ".fits" and p.exists()):
            with fits.open(product) as hdul:  # tile-compressed in HDU 1
                assert isinstance(hdul[1], fits.CompImageHDU) and hdul[0].data is None, product
        if frame.name.endswith("_100.fits"):
            weight = fits.getheader(frame.with_name(frame.name[:-5] + ".weight.fits"), 1)
            assert weight["WGTFROM"] == "BKGRMS"
    plain = tmp_path / "plain"  # plain copies of the selected frames' products, same layout
    arguments = ["--root", str(archive), "--beside-inputs", "--pattern", "*m600_100.fits"]
    assert (
        cli.main(["plain", *arguments, "--kind", "bkgrms", "--kind", "mask", "-o", str(plain)]) == 0
    )
    copies = sorted(p.relative_to(plain) for p in plain.rglob("*.fits"))
    wanted = [f.relative_to(archive) for f in frames if f.name.endswith("m600_100.fits")]
    assert copies == sorted(p.with_name(p.name[:-5] + s) for p in wanted for s in CHAIN[::2])
    assert all(fits.getdata(plain / copy).ndim == 2 for copy in copies)  # in the primary HDU
    assert not (tmp_path / "run" / "results" / "7DT").exists()
    assert (tmp_path / "run" / "results" / "logs" / "mask_and_background").is_dir()


def test_selection_by_filter_and_an_explicit_list(archive, tmp_path):
    run = snakemake(tmp_path / "a", "--dry-run", config=real_data(archive, filter="m600"))
    assert run.stdout.count("rule mask_and_background:") == 2
    listing = tmp_path / "tonight.txt"
    chosen = sorted(archive.rglob("*_r_*.fits"))[:1]
    listing.write_text("# one r frame\n" + "\n".join(map(str, chosen)) + "\n")
    run = snakemake(tmp_path / "b", "--dry-run", config=real_data(archive, path_list=str(listing)))
    assert run.stdout.count("rule mask_and_background:") == 1
    assert chosen[0].name[:-5] in run.stdout


WRITTEN = {"DATE", "CHECKSUM", "DATASUM"}
"""Cards that say when a product was written."""
PRODUCT_PATHS = {"IN_MASK", "IN_BKG", "IN_RMS", "IN_NOISE"}
"""Cards naming the products a product was made from (they are where each run wrote them)."""


def test_command_line_gives_the_workflows_products(demo_run, tmp_path):
    """skyrms run with the demo's configuration, its library and built masters: every
    product of the workflow, the propagated RMS and the weight too, pixel for pixel and card
    for card (write times and the paths of the products aside)."""
    frame = next(f for f in FRAMES if f.object == survey.GALAXY["object"])
    path = demo_run / "demo" / frame.relpath
    settings = yaml.safe_load((REPO / "config.yaml").read_text())
    settings["inputs"]["root"] = str(demo_run / "demo" / "scidata")
    settings["calibration"]["root"] = str(demo_run / "demo" / "calib")
    settings["masters"]["root"] = str(demo_run / "results" / "masters")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(settings))
    out = tmp_path / "out"
    run = ["run", str(path), "-o", str(out), "--configfile", str(tmp_path / "run.yaml")]
    assert cli.main(run) == 0
    mine, theirs = (
        str(folder / path.name)[:-5]
        for folder in (
            out,
            demo_run / "results" / Path(frame.relpath).parent.relative_to("scidata"),
        )
    )
    for suffix in (*CHAIN, ".proprms.fits", ".weight.fits"):
        assert np.array_equal(fits.getdata(mine + suffix), fits.getdata(theirs + suffix)), suffix
        cards = [fits.getheader(product + suffix) for product in (mine, theirs)]
        assert list(cards[0]) == list(cards[1]), suffix
        differ = {key for key in cards[1] if cards[0][key] != cards[1][key]}
        assert differ <= WRITTEN | PRODUCT_PATHS, suffix
    records = [
        json.loads(Path(product + ".masters.json").read_text()) for product in (mine, theirs)
    ]
    assert resolved(records[0], out) == resolved(records[1], demo_run)


def resolved(record: dict, base) -> dict:
    """What a masters record says was chosen: each master's path made absolute (the
    workflow's are relative to its folder, ``base``), distance, EXPTIME, FILTER, NCOMBINE.
    (For a master it built, the workflow records the digest of its raw frames and its MJD
    from them, where skyrms run reads the built file's.)"""
    return {
        imagetyp: {"path": os.path.abspath(os.path.join(base, choice["path"]))}
        | {key: choice[key] for key in ("days", "exptime", "filter", "ncombine")}
        for imagetyp, choice in record.items()
    }


def test_command_line_without_a_master_in_reach_keeps_the_maps_and_says_why(
    demo_run, tmp_path, capsys
):
    frame = demo_run / "demo" / FRAMES[0].relpath
    (tmp_path / "empty").mkdir()
    run = ["run", str(frame), "-o", str(tmp_path), "--calibration-root", str(tmp_path / "empty")]
    assert cli.main(run) == 1
    unit = f"{tmp_path / 'empty'}/7DT/7DT_C361K_HIGH_1x1/{FRAMES[0].unit}/BIAS"
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"skyrms: error: {frame}: no master bias for 7DT/7DT_C361K_HIGH_1x1/{FRAMES[0].unit} "
        f"within 7 days (no bias in {unit} at all)"
    )
    made = sorted(path.name.split(".", 1)[1] for path in tmp_path.glob("*.fits"))
    assert made == ["bkg.fits", "bkgrms.fits", "mask.fits"]  # the maps; no propagated RMS
