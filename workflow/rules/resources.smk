"""Resources: each job's memory, and the environment jobs run in.

At parse time: sizes every rule's mem_mb from the largest selected frame (from
the header index), registers 90% of this machine's memory as the mem_mb limit
unless --resources gives one, and sets the jobs' environment variables.
"""

from skyrms.io.keywords import NAXIS1, NAXIS2
from skyrms.job import JOB_ENVIRONMENT

# Jobs inherit these (cluster jobs too: they read this file again); see JOB_ENVIRONMENT.
for name, value in JOB_ENVIRONMENT.items():
    os.environ.setdefault(name, value)


def largest_frame():
    """Pixels in the largest selected frame (from the index; 0 if none is readable)."""
    headers = (INDEX.fields(path) for path in FRAMES.values())
    return max((h.get(NAXIS1, 0) * h.get(NAXIS2, 0) for h in headers), default=0)


def memory_mb(rule):
    """Memory to reserve for one job of ``rule``, MB, from the largest frame's size.

    Peak resident memory per frame pixel plus the interpreter and libraries (100 MB),
    with headroom over what the benchmark measures on full frames (docs/performance.md).
    """
    bytes_per_pixel = {
        "mask_and_background": 24,
        "propagated_rms": 21,
        "quicklook": 11,
        "master": 20,
        "weight": 12,
    }[rule]
    return int(100 + bytes_per_pixel * PIXELS / 2**20)


PIXELS = largest_frame()

# Without --resources mem_mb=..., jobs may use 90% of this machine's memory in
# all, so that --cores N never starts more jobs than fit.
if "mem_mb" not in workflow.global_resources:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    workflow.register_resource("mem_mb", int(0.9 * physical / 2**20))
