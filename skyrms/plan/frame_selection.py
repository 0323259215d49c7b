"""Which frames a run processes: the search (or the path list), then the time selection.

The frames' header entries are refreshed in the header index on the way (only new or
changed files are read), and the time selection (``inputs.since``, ``until``,
``newest_nights``) reads their ``DATE-OBS`` from it: no frame is opened for it.
"""

import os
import tempfile

from skyrms.io import discovery
from skyrms.io.fitsfiles import InputError
from skyrms.io.header_values import date_obs_or_none
from skyrms.io.headerindex import HeaderIndex
from skyrms.plan import frame_times
from skyrms.settings import InputsSection


def candidate_frames(inputs: InputsSection) -> dict[str, str]:
    """Frames by key (path under ``inputs.root`` without .fits), before the time selection:
    the listed ones (``paths``, ``path_list``) if any, else a search of ``inputs.root`` by
    the layout fields and the file pattern.

    Raises :class:`InputError` (one line) when the selection is empty or two paths clash.
    """
    listed = [
        *inputs.paths,
        *(discovery.read_path_list(inputs.path_list) if inputs.path_list else []),
    ]
    try:
        frames = (
            discovery.frames_by_key(listed, inputs.root)
            if listed
            else discovery.discover_by_key(inputs.root, inputs.selection())
        )
    except (OSError, ValueError) as error:
        raise InputError(f"inputs: {error}") from None
    if not frames:
        raise InputError(
            f"inputs: no frame under {inputs.root} matches the selection in the configuration"
        )
    return frames


def taken_in_time(
    candidates: dict[str, str], inputs: InputsSection, index: HeaderIndex
) -> dict[str, str]:
    """The ``candidates`` (key -> path, refreshed in ``index``) taken in the time selection;
    all of them without one. Raises :class:`InputError` when none is taken."""
    since = frame_times.time_bound(inputs.since or None, "inputs.since")
    until = frame_times.time_bound(inputs.until or None, "inputs.until", end=True)
    moments = {key: date_obs_or_none(index.fields(path)) for key, path in candidates.items()}
    keys = frame_times.selected_by_time(
        moments, since, until, inputs.newest_nights, inputs.night_starts
    )
    if not keys:
        raise InputError(
            f"inputs: none of the {len(candidates)} frames matching the selection was "
            "taken in the time selection (inputs.since, until, newest_nights)"
        )
    return {key: candidates[key] for key in keys}


def check_writable(folder: str, setting: str) -> None:
    """Raise :class:`InputError` naming ``setting`` when ``folder`` cannot be created or
    written to: before any work, not in the first job."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"{setting}: cannot write to {folder} ({error.strerror})") from None


def check_frame_folders(frames: dict[str, str]) -> None:
    """With ``outputs.beside_inputs``: every frame's folder must be writable."""
    for folder in sorted({os.path.dirname(path) for path in frames.values()}):
        check_writable(folder, "outputs.beside_inputs")
