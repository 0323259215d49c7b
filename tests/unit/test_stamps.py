"""Settings stamps: rewritten and dated only when the settings change, their date kept."""

import os
import shutil

from skyrms.io.stamps import settings_stamp

SETTINGS = {"background": {"box_size": 256, "filter_size": 3}, "compress": False}


def test_a_stamp_is_dated_when_its_settings_change_and_only_then(tmp_path):
    path = settings_stamp(tmp_path, "rule", SETTINGS)
    assert os.stat(path).st_mtime == 0  # the first: products there count as made with them
    os.utime(path, (1000.0, 1000.0))  # touched
    settings_stamp(tmp_path, "rule", SETTINGS)  # same settings: its date is its own
    assert os.stat(path).st_mtime == 0
    assert settings_stamp(tmp_path, "rule", dict(reversed(SETTINGS.items()))) == path
    assert os.stat(path).st_mtime == 0  # the same settings in another order
    changed = {**SETTINGS, "compress": True}
    settings_stamp(tmp_path, "rule", changed)
    assert os.stat(path).st_mtime > 1000


def test_a_copy_without_times_gets_the_stamps_date_back(tmp_path):
    path = settings_stamp(tmp_path / "a", "rule", SETTINGS)
    dated = os.stat(path).st_mtime
    copy = tmp_path / "b" / os.path.relpath(path, tmp_path / "a")
    copy.parent.mkdir(parents=True)
    shutil.copyfile(path, copy)  # cp -r: a new modification time
    os.utime(copy, (dated + 3600, dated + 3600))
    assert settings_stamp(tmp_path / "b", "rule", SETTINGS) == str(copy)
    assert os.stat(copy).st_mtime == dated


def test_a_broken_stamp_is_written_again(tmp_path):
    path = settings_stamp(tmp_path, "rule", SETTINGS)
    with open(path, "w") as handle:
        handle.write("{not json")
    settings_stamp(tmp_path, "rule", SETTINGS)
    with open(path) as handle:
        assert '"compress": false' in handle.read()


def test_a_preview_leaves_the_stamp_as_it_is(tmp_path):
    path = settings_stamp(tmp_path, "rule", SETTINGS)
    os.utime(path, (1000.0, 1000.0))
    changed = {**SETTINGS, "compress": True}
    preview = settings_stamp(tmp_path, "rule", changed, preview=True)
    assert preview != path and os.stat(preview).st_mtime > 1000
    assert settings_stamp(tmp_path, "rule", SETTINGS, preview=True) == path
    assert os.stat(path).st_mtime == 1000.0  # not even its date put back
