"""The plan of a workflow run (skyrms.plan.run_plan), made without Snakemake on the demo."""

import json
import logging
import os

import pytest

from skyrms import config as configuration
from skyrms.demo import survey
from skyrms.io.fitsfiles import InputError
from skyrms.io.tables import write_tsv
from skyrms.plan.calibration_plan import combination_text
from skyrms.plan.master_lookup import TYPES
from skyrms.plan.memory import BASE_MB, BYTES_PER_PIXEL
from skyrms.plan.run_plan import make_plan
from skyrms.settings import Settings
from tests.helpers import REPO

SHAPE = (60, 90)
FRAMES, MASTERS = survey.plan()
BUILT = [m for m in MASTERS if m.raws]
LOG = logging.getLogger("plan")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The demo survey at a small size: frames, library masters and raw frames."""
    root = tmp_path_factory.mktemp("plan")
    survey.write(root / "demo", shape=SHAPE)
    return root


@pytest.fixture
def here(archive, tmp_path, monkeypatch):
    """A run folder with the demo survey in it (linked), as the shipped config.yaml expects."""
    (tmp_path / "demo").symlink_to(archive / "demo")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings(**sections):
    """The shipped configuration with ``sections`` laid over it, validated, keys sorted and
    typed, as the workflow gives it to the plan (workflow/rules/settings.smk)."""
    config = configuration.read(REPO / "config.yaml")
    config = configuration.merged(config, {"demo": {"enabled": False}, **sections})
    return Settings.from_config(configuration.canonical(configuration.validated(config)))


def test_the_demo_plan_has_every_frame_its_masters_and_their_memory(here):
    plan = make_plan(settings(), LOG)
    assert len(plan.frames) == len(FRAMES) == 18
    assert len(plan.calibration.groups) == len(BUILT)
    assert all(choice.reason is None for choice in plan.choices.values())
    for key in plan.frames:
        masters = plan.masters_of(key)
        assert [os.path.basename(os.path.dirname(path)) for path, _ in masters] == list(TYPES)
        for path, built in masters:
            assert built == path.startswith(plan.calibration.built_root + os.sep)
    assert any(built for key in plan.frames for _, built in plan.masters_of(key))
    pixels = SHAPE[0] * SHAPE[1]
    assert plan.memory_mb == {
        rule: int(BASE_MB + per_pixel * pixels / 2**20)
        for rule, per_pixel in BYTES_PER_PIXEL.items()
    }
    final = plan.final_products()
    assert len([p for p in final if p.endswith(".weight.fits")]) == 18
    assert len([p for p in final if p.endswith(".quicklook.png")]) == 18
    assert os.path.exists("results/header-index.json")


def test_the_masters_settings_in_a_content_digest_are_the_configurations_text():
    """As the plan wrote them from the configuration's mapping: the built masters' CONTSHA."""
    changed = {"method": "minmax", "nlow": 1, "sigma": 2.5}
    config = configuration.merged(configuration.read(REPO / "config.yaml"), {"masters": changed})
    masters = configuration.canonical(configuration.validated(config))["masters"]
    assert combination_text(settings(masters=changed).masters) == repr(sorted(masters.items()))


def test_the_masters_a_built_master_is_corrected_with_are_planned_before_it(here):
    plan = make_plan(settings(), LOG)
    flats = [
        relpath for relpath, g in plan.calibration.groups.items() if g.master.imagetyp == "FLAT"
    ]
    assert flats
    for relpath in flats:
        corrected_with = plan.calibration.corrected_with(relpath)
        assert [os.path.basename(os.path.dirname(p)) for p, _ in corrected_with] == ["BIAS", "DARK"]
        assert len(plan.calibration.planned_digests) == len(BUILT)


def test_without_calibration_no_master_is_planned_or_chosen(here):
    plan = make_plan(settings(calibration={"enabled": False}), LOG)
    assert plan.choices == {} and plan.calibration.groups == {}
    assert not plan.layout.calibrated
    assert all(
        set(kinds) == {"mask", "bkg", "bkgrms"} for kinds in plan.summarized_products().values()
    )


def test_the_newest_night_and_the_earlier_frames_a_nightly_run_adds(here):
    newest = make_plan(settings(inputs={"newest_nights": 1}), LOG)
    assert 0 < len(newest.frames) < 18
    nightly = settings(inputs={"newest_nights": 1, "add_rechosen": True})
    assert len(make_plan(nightly, LOG).frames) == 18  # no earlier frame was ever attempted
    everything = make_plan(settings(), LOG)
    earlier = [key for key in everything.frames if key not in newest.frames]
    for key in earlier:  # their masters recorded as chosen now, after the frames arrived
        path = everything.layout.product("masters", key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            json.dump(everything.choices[key].masters, handle)
    assert make_plan(nightly, LOG).frames == newest.frames
    late = earlier[0]  # its products made before the frame arrived: looked at again
    os.utime(everything.layout.product("masters", late), (1000, 1000))
    assert set(make_plan(nightly, LOG).frames) == {*newest.frames, late}


def test_a_report_shows_only_the_frames_the_last_run_made(here):
    keys = sorted(make_plan(settings(), LOG).frames)
    write_tsv(
        "results/summary.tsv",
        [["frame", "status"], [keys[0], "ok"], [keys[1], "ok"], [keys[2], "failed"]],
    )
    assert sorted(make_plan(settings(), LOG, reporting=True).frames) == keys[:2]
    assert len(make_plan(settings(), LOG).frames) == 18


def test_frames_without_a_master_in_reach_are_logged_once_per_reason(here, caplog):
    with caplog.at_level(logging.WARNING, logger="plan"):
        plan = make_plan(settings(calibration={"max_days": 0.001}, masters={"enabled": False}), LOG)
    failed = [choice.reason for choice in plan.choices.values() if choice.masters is None]
    assert len(failed) == 18 and all("\n" not in reason for reason in failed)
    assert any("Master lookup:" in message and "frames:" in message for message in caplog.messages)
    assert all(plan.masters_of(key) == [] for key in plan.frames)


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"inputs": {"object": "NOSUCH"}},
            "inputs: no frame under demo/scidata matches the selection",
        ),
        (
            {"inputs": {"since": "2030-01-01"}},
            "inputs: none of the 18 frames matching the selection",
        ),
        (
            {"outputs": {"results": "taken/results"}},
            "outputs.results: cannot write to taken/results",
        ),
    ],
)
def test_a_plan_that_cannot_be_made_is_one_line(here, sections, message):
    (here / "taken").write_text("a file where a folder should be")
    with pytest.raises(InputError, match=message) as error:
        make_plan(settings(**sections), LOG)
    assert "\n" not in str(error.value)
