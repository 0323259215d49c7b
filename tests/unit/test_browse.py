"""The product browser: selecting frames and telling ok, missing and stale products apart."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from astropy.io import fits

from skyrms import browse, cli
from skyrms.config import load_settings
from skyrms.demo import survey as demo  # the fixture `survey` below takes the plain name
from skyrms.io.discovery import PRODUCTS, frame_key
from skyrms.io.headerindex import HeaderIndex, sha256_of
from skyrms.plan import master_lookup
from skyrms.science.background import BackgroundParams
from skyrms.science.source_mask import MaskParams
from skyrms.steps import mask_and_background, propagated_rms
from tests.helpers import REPO

SHAPE = (96, 128)  # small demo frames: the chain takes a fraction of a second per frame
PARAMS, MESH = MaskParams(), BackgroundParams(box_size=32)
CALIBRATION = load_settings(REPO / "config.yaml").calibration
PLAN, _ = demo.plan()
ROOT, RESULTS = "demo/scidata", "results"  # relative, as the workflow names them


def key_of(frame):
    """Key of a demo frame (its path below the input root, without .fits)."""
    return str(Path(frame.relpath).relative_to("scidata").with_suffix(""))


def planned(**fields):
    """Demo frames whose layout fields equal ``fields`` (a value may be a tuple of choices)."""
    wanted = {k: v if isinstance(v, tuple) else (v,) for k, v in fields.items()}
    return [f for f in PLAN if all(getattr(f, k) in v for k, v in wanted.items())]


T00528_02_M600 = sorted(planned(object="T00528", unit="7DT02", filter="m600"), key=key_of)
FULL, OTHER, SHORT = (  # both calibrated; the 30 s frame without masters and propagated RMS
    *[f for f in T00528_02_M600 if f.exptime == 100],
    *[f for f in T00528_02_M600 if f.exptime == 30],
)
PLAIN = planned(object="T00528", unit="7DT05", filter="m600")[0]  # by `skyrms run`
IMAGE = ("mask", "bkg", "bkgrms")


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """The demo survey with small frames, written once."""
    base = tmp_path_factory.mktemp("survey")
    demo.write(base, shape=SHAPE, raw_frames=False)  # masters ready-made: no workflow here
    return base


@pytest.fixture
def archive(survey, tmp_path, monkeypatch):
    """A copy of the survey in the working folder, its header index, and products made by the
    chain: FULL and OTHER complete, SHORT without the calibration step, PLAIN by `skyrms run`.
    """
    monkeypatch.chdir(tmp_path)
    shutil.copytree(survey, "demo")
    frames = [f"demo/{f.relpath}" for f in PLAN]
    library = master_lookup.library_paths("demo/calib")
    index = HeaderIndex(f"{RESULTS}/header-index.json")
    index.refresh([*frames, *library])
    index.save([*frames, *library])
    groups, _ = master_lookup.build_library("demo/calib", {p: index.fields(p) for p in library})
    for frame in (FULL, OTHER, SHORT):
        image_products(frame_path(frame), products(frame), index.digest(frame_path(frame)))
    for frame in (FULL, OTHER):
        calibration_products(frame_path(frame), products(frame), index, groups)
    outdir = str(Path(products(PLAIN)["bkg"]).parent)
    assert cli.main(["run", frame_path(PLAIN), "-o", outdir, "--box-size", "32"]) == 0
    return tmp_path


def image_products(path, out, digest):
    """Mask, background and RMS map of a frame, as the workflow's first job makes them."""
    mask_and_background.mask_and_background(
        path, out["mask"], out["bkg"], out["bkgrms"], PARAMS, MESH, [], frame_digest=digest
    )


def calibration_products(path, out, index, groups):
    """Masters record and propagated RMS, the masters chosen as the workflow chooses them."""
    key, fields = frame_key(path, ROOT), {path: index.fields(path)}
    lookup = master_lookup.choose_for_frames(
        {key: path}, fields, groups, CALIBRATION.max_days, CALIBRATION.dark_exptime, index.digest
    )
    propagated_rms.record_and_propagate(
        path, out["bkg"], out["bkgrms"], lookup[key].as_param(), out["masters"], out["proprms"],
        CALIBRATION, index.fields(path), index.digest(path),
    )  # fmt: skip


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Empty input root and results folder in the working folder."""
    monkeypatch.chdir(tmp_path)
    os.makedirs(ROOT)
    os.makedirs(RESULTS)


def frame_path(frame, root=ROOT):
    return f"{root}/{key_of(frame)}.fits"


def products(frame, outdir=RESULTS):
    return {kind: f"{outdir}/{key_of(frame)}{suffix}" for kind, suffix in PRODUCTS.items()}


def statuses(**selection):
    """Frame key -> {kind: status} of the selected frames."""
    return {r.key: r.status for r in browse.select(ROOT, RESULTS, **selection)}


def all_kinds(status, **others):
    """Every product kind's status; these tests make no quick-looks or weights (missing)."""
    others.setdefault("quicklook", "missing")
    others.setdefault("weight", "missing")
    return {kind: others.get(kind, status) for kind in PRODUCTS}


def change_pixels(frame):
    with fits.open(frame_path(frame), mode="update") as hdul:
        hdul[0].data[10, 10] += 50.0


def test_products_of_the_chain_are_ok_and_others_missing(archive):
    found = statuses(object="T00528", unit="7DT02", filter="m600")
    assert found == {
        key_of(FULL): all_kinds("ok"),
        key_of(OTHER): all_kinds("ok"),
        key_of(SHORT): all_kinds("ok", masters="missing", proprms="missing"),
    }
    record = browse.select(ROOT, RESULTS, object="T00528", unit="7DT02", pattern="*_100.fits")[0]
    assert record.path == frame_path(FULL)
    assert (record.object, record.unit, record.filter) == ("T00528", "7DT02", "m600")
    assert record.telkey == demo.TELKEY and record.observatory == demo.OBSERVATORY
    assert record.products == products(FULL)
    assert record.date_obs.isoformat() == FULL.date_obs
    others = planned(object="T01462")
    assert statuses(object="T01462") == {key_of(f): all_kinds("missing") for f in others}


def test_changed_pixels_make_every_header_product_stale(archive):
    change_pixels(FULL)
    change_pixels(PLAIN)
    found = statuses(object="T00528", filter="m600")
    assert found[key_of(FULL)] == all_kinds("stale", masters="ok")
    assert found[key_of(OTHER)] == all_kinds("ok")
    # skyrms run writes FRAMESHA too
    assert found[key_of(PLAIN)] == all_kinds("stale", masters="missing", proprms="missing")


def test_a_deleted_product_is_missing(archive):
    os.remove(products(OTHER)["bkgrms"])
    os.remove(products(OTHER)["masters"])
    assert statuses(unit="7DT02")[key_of(OTHER)] == all_kinds(
        "ok", bkgrms="missing", masters="missing"
    )


def test_an_unreadable_product_is_stale(archive):
    Path(products(OTHER)["bkg"]).write_bytes(b"not FITS")
    assert statuses(unit="7DT02")[key_of(OTHER)] == all_kinds("ok", bkg="stale")


def test_frame_digest_from_the_index_while_its_stamp_holds(archive):
    cache = Path(RESULTS, "header-index.json")
    saved = json.loads(cache.read_text())
    saved["entries"][frame_path(FULL)]["sha256"] = "0" * 64  # as if indexed with other bytes
    cache.write_text(json.dumps(saved))
    assert statuses(unit="7DT02")[key_of(FULL)] == all_kinds("stale", masters="ok")
    os.utime(frame_path(FULL))  # same bytes, new modification time: hashed afresh
    assert statuses(unit="7DT02")[key_of(FULL)] == all_kinds("ok")


def test_selection_by_layout_fields_and_file_name(archive):
    def keys(**selection):
        return [r.key for r in browse.select(ROOT, RESULTS, **selection)]

    hundreds = [
        f for f in planned(object="T00528", filter="m600") if f.relpath.endswith("100.fits")
    ]
    assert keys(object="T00528", filter="m600", pattern="*100.fits") == sorted(
        key_of(f) for f in hundreds
    )
    red = planned(unit="7DT05", filter="r")
    assert keys(unit=["7DT05"], filter="r") == sorted(key_of(f) for f in red)
    assert keys(object=["T0152*", "T01462"], observatory="7D?") == sorted(
        key_of(f) for f in planned(object="T01462")
    )
    assert keys(telkey="nothing") == []
    assert keys() == sorted(key_of(f) for f in PLAN)


MOMENT = "2025-11-22T02:02:39"  # DATE-OBS of one frame


@pytest.mark.parametrize(
    ("since", "until", "first", "last"),  # first, last: the same bounds as UTC ISO text
    [
        ("2025-11-21", None, "2025-11-21", "9"),
        (None, "2025-11-20", "", "2025-11-20T23:59:59.999999"),  # the whole day
        ("2025-11-20", "2025-11-20T02:34:00", "2025-11-20", "2025-11-20T02:34:00"),
        (MOMENT, MOMENT, MOMENT, MOMENT),
        ("2025-11-22T11:02:39+09:00", MOMENT + "Z", MOMENT, MOMENT),
    ],
)
def test_selection_by_date_obs(archive, since, until, first, last):
    expected = sorted(key_of(f) for f in PLAN if first <= f.date_obs <= last)
    assert expected and len(expected) < len(PLAN)
    assert [r.key for r in browse.select(ROOT, RESULTS, since=since, until=until)] == expected
    os.remove(Path(RESULTS, "header-index.json"))  # DATE-OBS from the frames' headers instead
    assert [r.key for r in browse.select(ROOT, RESULTS, since=since, until=until)] == expected


def test_selection_of_the_newest_nights(archive, capsys):
    newest = sorted(key_of(f) for f in PLAN if f.date_obs.startswith("2025-11-22"))
    assert [r.key for r in browse.select(ROOT, RESULTS, newest_nights=1)] == newest
    assert len(browse.select(ROOT, RESULTS, newest_nights=2)) == len(PLAN)
    options = ("--root", ROOT, "--results", RESULTS, "--paths", "frame")
    status, lines, _ = run(capsys, *options, "--newest-nights", "1", "--unit", "7DT02")
    expected = [f for f in PLAN if f.date_obs.startswith("2025-11-22") and f.unit == "7DT02"]
    assert status == 0 and lines == sorted(frame_path(f) for f in expected)


def test_date_obs_from_the_index_while_the_stamp_holds(archive):
    cache = Path(RESULTS, "header-index.json")
    saved = json.loads(cache.read_text())
    saved["entries"][frame_path(FULL)]["fields"]["DATE-OBS"] = "2030-01-01T00:00:00"
    cache.write_text(json.dumps(saved))
    assert [r.key for r in browse.select(ROOT, RESULTS, since="2029-12-31")] == [key_of(FULL)]
    os.utime(frame_path(FULL))
    assert browse.select(ROOT, RESULTS, since="2029-12-31") == []


def test_products_beside_the_frames(archive):
    out = products(OTHER, outdir=ROOT)
    image_products(frame_path(OTHER), out, sha256_of(frame_path(OTHER)))
    records = browse.select(
        ROOT, RESULTS, beside_inputs=True, object="T00528", unit="7DT02", filter="m600"
    )
    assert {r.key: r.status for r in records} == {
        key_of(f): all_kinds("missing", **dict.fromkeys(IMAGE, "ok") if f is OTHER else {})
        for f in T00528_02_M600
    }
    assert [r.products for r in records if r.key == key_of(OTHER)] == [out]


def test_product_header(archive):
    for kind, prodtype in (("bkgrms", "BKGRMS"), ("mask", "MASK"), ("proprms", "PROPRMS")):
        header = browse.read_product_header(products(FULL)[kind])
        assert header["FRAMESHA"] == sha256_of(frame_path(FULL))
        assert header["PRODTYPE"] == prodtype
        assert header["OBJECT"] == "T00528"


def run(capsys, *argv):
    """``skyrms products`` with these options: (exit status, stdout lines, stderr lines)."""
    capsys.readouterr()
    status = cli.main(["products", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_command_prints_the_status_table(archive, capsys):
    change_pixels(OTHER)
    options = ("--object", "T00528", "--unit", "7DT02", "--filter", "m600")
    status, lines, err = run(capsys, "--root", ROOT, "--results", RESULTS, *options)
    assert status == 0 and err == []
    rows = [line.split() for line in lines]
    assert rows[0] == ["frame", "DATE-OBS", *PRODUCTS]
    expected = {
        FULL: all_kinds("ok"),
        OTHER: all_kinds("stale", masters="ok"),
        SHORT: all_kinds("ok", masters="missing", proprms="missing"),
    }
    assert rows[1:] == [[key_of(f), f.date_obs, *cells.values()] for f, cells in expected.items()]


def test_command_prints_paths(archive, capsys):
    change_pixels(OTHER)
    options = ("--root", ROOT, "--results", RESULTS, "--object", "T00528")
    status, lines, err = run(capsys, *options, "--paths", "bkgrms")
    made = sorted(str(p) for p in Path(RESULTS).rglob("*.bkgrms.fits"))
    assert status == 0 and len(made) == 4
    assert sorted(lines) == made
    assert err == ["skyrms: 1 of these bkgrms products are stale"]
    status, lines, err = run(capsys, *options, "--paths", "frame", "--pattern", "*_30.fits")
    assert status == 0 and err == []
    assert lines == sorted(frame_path(f) for f in planned(object="T00528") if f.exptime == 30)
    status, lines, err = run(capsys, *options, "--paths", "frame", "--since", "2026-01-01")
    assert (status, lines, err) == (0, [], [f"skyrms: no frame under {ROOT} matches the selection"])


def test_command_reads_the_workflow_configuration(archive, capsys):
    config = {
        "inputs": {"root": ROOT, "object": "T01462", "filter": ["m600"], "pattern": "*100.fits"},
        "outputs": {"results": "elsewhere", "beside_inputs": True},
    }
    Path("config.yaml").write_text(yaml.safe_dump(config))
    status, lines, _ = run(capsys, "--configfile", "config.yaml", "--paths", "frame")
    assert status == 0
    expected = [f for f in planned(object="T01462", filter="m600") if f.exptime == 100]
    assert lines == sorted(frame_path(f) for f in expected)
    overrides = ("--object", "T00528", "--no-beside-inputs", "--results", RESULTS)
    status, lines, _ = run(capsys, "--configfile", "config.yaml", *overrides, "--paths", "proprms")
    assert status == 0
    assert lines == [products(FULL)["proprms"], products(OTHER)["proprms"]]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--root", "nowhere", "--results", RESULTS], "nowhere: input root"),
        (["--root", ROOT, "--results", "nowhere"], "nowhere: results folder"),
        (["--root", ROOT, "--results", RESULTS, "--since", "2025-11-31"], "--since: '2025-11-31'"),
        (["--root", ROOT, "--results", RESULTS, "--until", "tomorrow"], "--until: 'tomorrow'"),
        (["--configfile", "missing.yaml"], "missing.yaml: cannot read"),
        (["--configfile", "bad.yaml"], "bad.yaml: not YAML"),
        (["--results", RESULTS], "no input root"),
    ],
)
def test_bad_input_ends_with_one_line(folders, capsys, options, named):
    Path("bad.yaml").write_text("inputs: [root: x\n")
    status, lines, err = run(capsys, *options)
    assert status == 1 and lines == []
    assert len(err) == 1 and err[0].startswith(f"skyrms: error: {named}")


def test_a_file_that_is_no_frame_taken_by_the_pattern_ends_with_one_line(folders, capsys):
    stray = Path(ROOT, "7DT", "tel", "T1", "7DT01", "m400", "notes.txt")
    stray.parent.mkdir(parents=True)
    stray.write_text("")
    status, lines, err = run(capsys, "--root", ROOT, "--results", RESULTS, "--pattern", "*")
    assert status == 1 and lines == []
    assert err == [f"skyrms: error: {stray}: not a FITS file name (expected one of "
                   ".fits.fz, .fits.gz, .fits, .fit, .fts)"]  # fmt: skip


def test_table_lines_up_its_columns():
    record = browse.FrameRecord(
        "r/a.fits", "a", "o", "t", "x", "u", "f", None, {}, dict.fromkeys(PRODUCTS, "missing")
    )
    head, row = browse.table([record]).splitlines()
    assert head.split() == ["frame", "DATE-OBS", *PRODUCTS]
    assert row.split() == ["a", "-", *["missing"] * len(PRODUCTS)]
    assert [head.index(kind) for kind in PRODUCTS] == [
        row.index("missing", head.index(kind)) for kind in PRODUCTS
    ]
