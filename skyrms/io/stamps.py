"""Settings stamps: a file per rule in the results folder, holding the settings of its products.

A stamp is an input of the rule's jobs, dated when its settings last changed: Snakemake
remakes the products older than it (made with other settings) whichever folder it runs
from, where its own record of the parameters lives in the folder it runs from. The date
is kept inside the stamp too and put back on the file when a copy that did not keep times
(``cp -r``) changed it, so a copied results folder reruns nothing.

A results folder's first stamp of a rule is dated at the epoch: the products already there
(made before stamps were kept, or copied in) count as made with those settings, and only a
change remakes them. A run that makes nothing (a dry run, a report) leaves the stamp as it
is: when its settings differ, it gets a preview stamp instead, dated now, so that it shows
what a run would remake, and the next real run with the stamp's own settings remakes
nothing.
"""

import json
import os
import tempfile
import time

FOLDER = os.path.join(".skyrms", "settings")
"""Where the stamps are, inside the results folder."""


def settings_stamp(results, rule: str, settings, preview: bool = False) -> str:
    """The path of ``rule``'s stamp in ``results`` for ``settings`` (JSON-serialisable).

    The stamp is written and dated now when it holds other settings, at the epoch when
    there is none (or none of ours); else its file's time is set back to when they last
    changed. With ``preview`` an existing stamp is only read, and other settings get
    ``{rule}.preview.json`` instead, dated now.
    """
    path = os.path.join(results, FOLDER, f"{rule}.json")
    try:
        with open(path) as handle:
            recorded = json.load(handle)
        wanted = json.loads(json.dumps(settings))
        changed = int(recorded["changed_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        write(path, settings, 0)  # the first: the products there count as made with these
        return path
    if recorded.get("settings") == wanted:
        if os.stat(path).st_mtime_ns != changed and not preview:
            os.utime(path, ns=(changed, changed))
        return path
    if preview:
        path = os.path.join(results, FOLDER, f"{rule}.preview.json")
    write(path, settings, time.time_ns())
    return path


def write(path, settings, changed: int) -> None:
    """Write a stamp of ``settings`` dated ``changed`` (ns since the epoch); concurrent runs
    may each write it (every writer renames its own temporary file into place)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=os.path.dirname(path), prefix=".stamp.", delete=False
    ) as handle:
        json.dump({"changed_ns": changed, "settings": settings}, handle, sort_keys=True, indent=1)
    os.utime(handle.name, ns=(changed, changed))
    os.replace(handle.name, path)
