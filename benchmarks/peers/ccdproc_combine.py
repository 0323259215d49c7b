"""ccdproc.combine making one master from raw frames, for :mod:`benchmarks.masters_benchmark`.

    PYTHON -I ccdproc_combine.py OUTPUT RAW RAW ... --method median|mean|minmax|sigma_clip
        [--sigma 3] [--nlow 1] [--nhigh 1] [--info INFO.json]

Run with the python of a virtual environment holding ccdproc (``pip install ccdproc``);
it does not import skyrms. The combination is skyrms's (skyrms.science.combine) in
ccdproc's words:

- ``median``: ``method="median"``;
- ``mean``: ``method="average"``;
- ``minmax``: ``method="average"`` after ``clip_extrema=True, nlow, nhigh`` (drops each
  pixel's nlow lowest and nhigh highest values, by count as skyrms does; ccdproc's
  ``minmax_clip`` is a clip by value and is not used);
- ``sigma_clip``: ``method="average"`` after ``sigma_clip=True`` with
  ``sigma_clip_low_thresh = sigma_clip_high_thresh = sigma`` around the median with the
  MAD standard deviation (``sigma_clip_func="median"``, ``sigma_clip_dev_func="mad_std"``:
  astropy's own implementations of ``np.ma.median`` and ``astropy.stats.mad_std``), one
  pass (ccdproc's ``maxiters=1``), as skyrms's one pass.

Everything else is ccdproc's default: ``mem_limit`` (16e9 bytes in ccdproc 2.x), the
float64 ``dtype``, the uncertainty of every combination (written as the UNCERT extension,
with a MASK extension). The frames are read as ``unit="adu"`` (they carry no BUNIT).
``--info`` writes ccdproc's version, the mem_limit and dtype used, and the number of
chunks ccdproc split each frame into, as JSON.
"""

import argparse
import inspect
import json
import re
from pathlib import Path

import ccdproc
from astropy import log


def combine_arguments(method: str, sigma: float, nlow: int, nhigh: int) -> dict:
    """ccdproc.combine's arguments for skyrms's combination ``method``."""
    if method == "median":
        return {"method": "median"}
    if method == "mean":
        return {"method": "average"}
    if method == "minmax":
        return {"method": "average", "clip_extrema": True, "nlow": nlow, "nhigh": nhigh}
    if method == "sigma_clip":
        return {
            "method": "average", "sigma_clip": True, "sigma_clip_low_thresh": sigma,
            "sigma_clip_high_thresh": sigma, "sigma_clip_func": "median",
            "sigma_clip_dev_func": "mad_std",
        }  # fmt: skip
    raise SystemExit(f"unknown method {method!r}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("raws", nargs="+")
    parser.add_argument("--method", required=True)
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--nlow", type=int, default=1)
    parser.add_argument("--nhigh", type=int, default=1)
    parser.add_argument("--info", type=Path)
    args = parser.parse_args(argv)
    arguments = combine_arguments(args.method, args.sigma, args.nlow, args.nhigh)
    with log.log_to_list() as records:
        ccdproc.combine(
            args.raws, output_file=str(args.output), overwrite_output=True, unit="adu",
            **arguments,
        )  # fmt: skip
    if args.info:
        defaults = inspect.signature(ccdproc.combine).parameters
        messages = " ".join(record.getMessage() for record in records)
        chunks = re.search(r"splitting each image into (\d+) chunks", messages)
        info = {
            "version": ccdproc.__version__,
            "mem_limit": defaults["mem_limit"].default,
            "dtype": "float64" if defaults["dtype"].default is None else str(defaults["dtype"]),
            "chunks": int(chunks.group(1)) if chunks else 1,
            "arguments": arguments,
        }
        args.info.write_text(json.dumps(info) + "\n")


if __name__ == "__main__":
    main()
