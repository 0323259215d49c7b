"""A full disk ends a frame with one line naming the product, and leaves no partial product.

``skyrms run`` (and ``skyrms background``) on a disk too small for all of a frame's
products, and a demo run whose one tile's products folder is full. The disk is a small
tmpfs mounted inside a user and mount namespace (``unshare -rm``: no root needed); the
command runs inside that namespace, and what is left on the tmpfs when the command ends is
listed, since the tmpfs ends with it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from benchmarks.peer_table import SPITZER
from skyrms.demo import survey
from skyrms.io.fitsfiles import read_image
from tests.helpers import snakemake

TINY_DISK = """
folder=$1 size=$2 listing=$3; shift 3
mount -t tmpfs -o "size=$size" tmpfs "$folder" || exit 99
"$@"; status=$?
find "$folder" -type f > "$listing"
exit $status
"""


def on_tiny_disk(folder: Path, size: str, listing: Path) -> list[str]:
    """A command prefix: the command runs with ``folder`` a fresh tmpfs of ``size`` (e.g.
    64k), then the files left on it are written to ``listing``, one a line."""
    folder.mkdir(parents=True, exist_ok=True)
    return ["unshare", "-rm", "sh", "-c", TINY_DISK, "sh", str(folder), size, str(listing)]


@pytest.fixture(scope="module", autouse=True)
def namespaces():
    """Skip unless this machine lets a user make a mount namespace (unshare -rm)."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode:
        pytest.skip("unshare -rm fails here: no user and mount namespace for a small tmpfs")


def skyrms_on_tiny_disk(tmp_path: Path, size: str, *args) -> tuple[str, list[str]]:
    """Run ``skyrms args`` with ``tmp_path/disk`` a tmpfs of ``size``; it must fail. Its
    stderr, and the files it left on the disk."""
    disk, listing = tmp_path / "disk", tmp_path / "left.txt"
    command = [sys.executable, "-m", "skyrms", *args]
    result = subprocess.run(
        [*on_tiny_disk(disk, size, listing), *command], capture_output=True, text=True
    )
    assert result.returncode == 1, result.stderr
    return result.stderr, listing.read_text().split()


def assert_one_line_naming(stderr: str, product: Path) -> None:
    """The command's last line, and its only error, says it cannot write ``product`` for
    lack of space; no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("skyrms: error:")]
    assert errors == stderr.splitlines()[-1:], stderr
    assert errors[0].startswith(f"skyrms: error: {product}: cannot write (")
    assert "No space left on device" in errors[0] or "Not enough space on disk" in errors[0]
    assert "Traceback" not in stderr


RUN_CASES = {  # disk size, options of skyrms run, the product that does not fit, those left
    "nothing fits": ("64k", [], "mask", []),
    "only the mask fits": ("1m", [], "bkg", []),  # the mask and maps are made together
    "all but the weight fit": ("5m", ["--weight", "image"], "weight", ["mask", "bkg", "bkgrms"]),
}


@pytest.mark.parametrize(("size", "options", "failing", "kept"), RUN_CASES.values(), ids=RUN_CASES)
def test_skyrms_run_on_a_full_disk_fails_in_one_line_and_leaves_no_partial_product(
    tmp_path, size, options, failing, kept
):
    disk = tmp_path / "disk"
    command = ["run", SPITZER, "-o", disk, "--box-size", "64", *options]
    stderr, left = skyrms_on_tiny_disk(tmp_path, size, *command)
    assert_one_line_naming(stderr, disk / f"{SPITZER.stem}.{failing}.fits")
    # no hidden temporary, no half-made step: the earlier steps' products whole
    assert sorted(left) == sorted(str(disk / f"{SPITZER.stem}.{kind}.fits") for kind in kept)


def test_skyrms_background_writes_both_maps_or_neither(tmp_path):
    mask = tmp_path / "mask.fits"
    fits.writeto(mask, np.zeros(fits.getdata(SPITZER).shape, np.uint8))
    maps = [tmp_path / "disk" / name for name in ("frame.bkg.fits", "frame.bkgrms.fits")]
    stderr, left = skyrms_on_tiny_disk(tmp_path, "3m", "background", SPITZER, mask, *maps)
    assert_one_line_naming(stderr, maps[1])  # the background map fitted on the disk
    assert left == []


FULL = Path("results/7DT/7DT_C361K_HIGH_1x1/T01462")
"""The folder of one tile's products that is a full disk in the workflow run: room for a
mask, not for the background map after it."""

FRAMES, _ = survey.plan()


def key_of(frame) -> str:
    """Key of a demo frame: its path below the input root, without .fits."""
    return frame.relpath.removeprefix("scidata/").removesuffix(".fits")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The demo (small frames, no quick-looks) run with --keep-going, :data:`FULL` a 64k
    disk: the finished run folder and the files left on that disk."""
    workdir = tmp_path_factory.mktemp("full_disk")
    listing = workdir / "left.txt"
    config = {"demo": {"shape": [128, 192]}, "outputs": {"quicklook": False}}
    run = snakemake(
        workdir / "run", "--keep-going", config=config, check=False,
        prefix=on_tiny_disk(workdir / "run" / FULL, "64k", listing),
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-3000:]
    return workdir / "run", listing.read_text().split()


def test_the_full_folders_frames_fail_in_one_line_and_leave_nothing(full_run):
    run, left = full_run
    logs = {
        key_of(frame): (run / "results/logs/mask_and_background" / f"{key_of(frame)}.log")
        for frame in FRAMES
        if frame.object == FULL.name
    }
    for key, log in logs.items():
        errors = [line for line in log.read_text().splitlines() if " ERROR: " in line]
        assert len(errors) == 1, log.read_text()
        assert f" ERROR: results/{key}." in errors[0]  # its mask, background or RMS map
        assert ": cannot write (" in errors[0]
    # the disk filled between a frame's products: its mask was written, then removed
    assert any(" INFO: wrote results/" in log.read_text() for log in logs.values())
    assert left == []  # not even the masks written before the disk filled


def test_every_other_frame_finishes(full_run):
    run, _ = full_run
    for frame in FRAMES:
        if frame.object != FULL.name:
            for kind in ("mask", "bkg", "bkgrms", "proprms"):
                data, _ = read_image(run / "results" / f"{key_of(frame)}.{kind}.fits")
                assert data.shape == (128, 192)
