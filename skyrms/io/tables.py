"""Tab-separated tables: the frame table, the night's summary, the demo's truth tables."""

import csv

from skyrms.io.fitsfiles import atomic_path


def write_tsv(path, rows) -> None:
    """Write ``rows`` (sequences of values, the column names first) tab-separated, atomically.

    Values are written with ``str``; a missing value should be given as "".
    """
    with atomic_path(path) as temporary:
        temporary.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))


def read_tsv(path) -> list[dict]:
    """The rows of a table with its column names first, as {column: text} (none if there is
    no such file)."""
    try:
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t"))
    except FileNotFoundError:
        return []
