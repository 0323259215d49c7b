"""The frame table job: every selected frame's key, path and layout fields."""

from skyrms.io.discovery import LAYOUT, layout_fields
from skyrms.io.tables import write_tsv


def write_frame_table(frames: dict[str, str], output) -> None:
    """Write the selected frames (key -> path) as a table: key, path and layout fields."""
    rows = [("key", "path", *LAYOUT)]
    rows += [(key, path, *layout_fields(key).values()) for key, path in frames.items()]
    write_tsv(output, rows)
