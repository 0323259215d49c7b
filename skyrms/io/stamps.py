"""Settings stamps: a file per rule in the results folder, holding the settings of its products.

A stamp is an input of the rule's jobs, dated when its settings last changed: Snakemake
remakes the products older than it (made with other settings) whichever folder it runs
from, where its own record of the parameters lives in the folder it runs from. The date
is kept inside the stamp too and put back on the file when a copy that did not keep times
(``cp -r``) changed it, so a copied results folder reruns nothing.
"""

import json
import os
import time

from skyrms.io.fitsfiles import atomic_path

FOLDER = os.path.join(".skyrms", "settings")
"""Where the stamps are, inside the results folder."""


def settings_stamp(results, rule: str, settings) -> str:
    """The path of ``rule``'s stamp in ``results``, holding ``settings`` (JSON-serialisable):
    written, and dated now, when it holds other settings (or none); else its file's time
    set back to when they last changed."""
    path = os.path.join(results, FOLDER, f"{rule}.json")
    try:
        with open(path) as handle:
            recorded = json.load(handle)
        if recorded["settings"] == json.loads(json.dumps(settings)):
            changed = int(recorded["changed_ns"])
            if os.stat(path).st_mtime_ns != changed:
                os.utime(path, ns=(changed, changed))
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no stamp, or not one of ours: write it
    changed = time.time_ns()
    with atomic_path(path) as temporary:
        record = {"changed_ns": changed, "settings": settings}
        temporary.write_text(json.dumps(record, sort_keys=True, indent=1))
        os.utime(temporary, ns=(changed, changed))
    return path
