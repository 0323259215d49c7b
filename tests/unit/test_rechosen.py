"""The earlier frames a nightly run looks at again (skyrms.plan.rechosen) and the header index
that dates their arrival (skyrms.io.headerindex)."""

import json
import os

import numpy as np
import pytest
from astropy.io import fits

from skyrms.io import headerindex
from skyrms.io.headerindex import HeaderIndex
from skyrms.plan.rechosen import Arrival, candidates, frames_choosing_other_masters, last_attempt

UNIT, OTHER = ("7DT", "C361K", "7DT01"), ("7DT", "C361K", "7DT02")
MAX_DAYS = {"BIAS": 7.0, "DARK": 7.0, "FLAT": 30.0}
FRAMES = {
    "never": Arrival(UNIT, 61000.0, seen=100.0),  # no product, no log
    "late": Arrival(UNIT, 61000.0, seen=300.0),  # arrived after its attempt
    "near": Arrival(UNIT, 61000.0, seen=100.0),
    "far": Arrival(UNIT, 60980.0, seen=100.0),  # 20 days before the new bias
    "flat-reach": Arrival(UNIT, 60980.0, seen=100.0),
    "other-unit": Arrival(OTHER, 61000.0, seen=100.0),
    "before": Arrival(UNIT, 61000.0, seen=100.0),  # attempted after the bias arrived
}
ATTEMPTS = {
    "never": None,
    "late": 200.0,
    "near": 200.0,
    "far": 200.0,
    "flat-reach": 200.0,
    "other-unit": 200.0,
    "before": 500.0,
}


def test_candidates_are_the_frames_a_newer_arrival_could_change():
    masters = [
        Arrival(UNIT, 61002.0, seen=400.0, imagetyp="BIAS"),  # new: 2 days after
        Arrival(UNIT, 60990.0, seen=50.0, imagetyp="FLAT"),  # old: before every attempt
    ]
    new, served = candidates(FRAMES, masters, ATTEMPTS, MAX_DAYS)
    assert new == ["never", "late"]
    assert served == ["near"]  # "far" is out of the bias's 7 days, "before" knew it
    masters.append(Arrival(UNIT, 60995.0, seen=450.0, imagetyp="FLAT"))  # 15 days after "far"
    assert candidates(FRAMES, masters, ATTEMPTS, MAX_DAYS)[1] == ["near", "far", "flat-reach"]


def test_without_masters_only_new_and_changed_frames_are_candidates():
    assert candidates(FRAMES, [], ATTEMPTS, MAX_DAYS) == (["never", "late"], [])


def test_the_last_attempt_is_the_first_existing_path(tmp_path):
    product, log = tmp_path / "a.masters.json", tmp_path / "a.log"
    assert last_attempt([product, log]) is None
    log.write_text("failed")
    os.utime(log, (1000, 1000))
    assert last_attempt([product, log]) == 1000
    product.write_text("{}")
    os.utime(product, (2000, 2000))
    assert last_attempt([product, log]) == 2000


def test_rechosen_are_the_frames_whose_choice_differs_from_the_record(tmp_path):
    choice = {"BIAS": {"path": "/lib/bias.fits", "sha256": "ab", "days": -0.5}}
    records = {key: str(tmp_path / f"{key}.masters.json") for key in "abcde"}
    for key in "abc":
        write_json(records[key], choice)
    write_json(records["b"], {**choice, "BIAS": {**choice["BIAS"], "sha256": "cd"}})
    (tmp_path / "c.masters.json").write_text('{"BIAS": ')  # cut short
    now = {"a": choice, "b": choice, "c": choice, "d": choice, "e": None}
    # a: the same; b: the master's bytes changed; c: unreadable record;
    # d: no record but a choice now; e: no record and still no master
    assert frames_choosing_other_masters(now, records) == ["b", "c", "d"]


def write_json(path, data):
    with open(path, "w") as handle:
        json.dump(data, handle)


def write_frame(path):
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(path)
    return str(path)


def test_a_truncated_or_foreign_index_is_rebuilt_with_a_reason(tmp_path):
    paths = [write_frame(tmp_path / f"f{n}.fits") for n in range(3)]
    cache = tmp_path / "index.json"
    index = HeaderIndex(cache)
    assert index.discarded is None and index.refresh(paths) == 3
    index.save(paths)
    first_seen = {path: index.seen(path) for path in paths}
    text = cache.read_text()
    for broken, reason in [
        (text[: len(text) // 2], "unreadable"),
        (b"\x00" * 100, "unreadable"),
        ('{"keywords": [], "entries": {"f.fits": {"stamp": [1, 2]}}}', "not a header index"),
    ]:
        (cache.write_bytes if isinstance(broken, bytes) else cache.write_text)(broken)
        again = HeaderIndex(cache)
        assert again.discarded.startswith(f"{cache}: {reason}")
        assert again.entries == {} and again.refresh(paths) == 3  # every file read again
        again.save(paths)
        assert HeaderIndex(cache).discarded is None  # and written whole
    assert all(HeaderIndex(cache).seen(path) > first_seen[path] for path in paths)


def test_an_index_made_for_other_keywords_reads_the_headers_again_but_keeps_the_digests(
    tmp_path, monkeypatch
):
    """An upgrade that indexes one more keyword reads every header (cheap), never hashes the
    archive again, and the files keep their arrival times."""
    paths = [write_frame(tmp_path / f"f{n}.fits") for n in range(2)]
    cache = tmp_path / "index.json"
    index = HeaderIndex(cache)
    index.refresh(paths)
    index.save(paths)
    seen = [index.seen(path) for path in paths]
    cache.write_text(cache.read_text().replace('"keywords":["', '"keywords":["X", "'))
    monkeypatch.setattr(headerindex, "sha256_of", lambda path: pytest.fail("hashed again"))
    again = HeaderIndex(cache)
    assert again.discarded.startswith(f"{cache}: made for other header keywords")
    assert again.refresh(paths) == 0
    assert [again.fields(path)["NAXIS1"] for path in paths] == [4, 4]
    assert [again.seen(path) for path in paths] == seen
    again.save(paths)
    assert HeaderIndex(cache).discarded is None


def test_an_index_from_before_arrival_times_is_kept_with_arrival_zero(tmp_path):
    """Upgrading keeps the entries (no archive read and hashed again); they count as
    arrived before any product was made."""
    paths = [write_frame(tmp_path / f"f{n}.fits") for n in range(2)]
    cache = tmp_path / "index.json"
    index = HeaderIndex(cache)
    index.refresh(paths)
    index.save(paths)
    saved = json.loads(cache.read_text())
    for entry in saved["entries"].values():
        del entry["seen"]
    cache.write_text(json.dumps(saved))
    again = HeaderIndex(cache)
    assert again.discarded is None and again.refresh(paths) == 0
    assert [again.seen(path) for path in paths] == [0.0, 0.0]
