"""The plan: which frames this run processes, the masters built and chosen, each job's memory.

At parse time skyrms.plan.make_plan searches inputs.root (or reads the path list), keeps
the frames taken in the time selection and the earlier ones a nightly run looks at again
(inputs.add_rechosen), plans the masters to build from raw frames and chooses each
frame's master bias, dark and flat among built, planned and library ones, reading headers
from the header index ({results}/header-index.json: only new or changed files are read and
hashed). The rules read the plan; the chosen masters are the inputs of a frame's
propagated_rms job, so a nearer master arriving reruns exactly its frames.

Inputs from the archive are ancient(): a sync that rewrites them with new modification
times triggers nothing. Their content is followed instead: a frame's SHA-256 is a
parameter of the jobs that read it, each master's is in the recorded choice, so changed
bytes rerun what they feed. The masters this workflow builds are followed by content
too (their files record it, CONTSHA), except those this run builds: they are not
ancient, so that rebuilding one reruns the jobs that use it (Snakemake does not check
the parameters of jobs downstream of a rerun job whose inputs are all ancient).
"""

from snakemake.common import get_function_params, overwrite_function_params

from skyrms.io import stamps
from skyrms.job import JOB_ENVIRONMENT
from skyrms.plan.run_plan import make_plan

try:
    PLAN = make_plan(TYPED_SETTINGS, logger, reporting=REPORTING)
except InputError as error:
    raise WorkflowError(str(error)) from None
LAYOUT = PLAN.layout

# Jobs inherit these (cluster jobs too: they read this file again); see JOB_ENVIRONMENT.
for name, value in JOB_ENVIRONMENT.items():
    os.environ.setdefault(name, value)

# Without --resources mem_mb=..., jobs may use 90% of this machine's memory in
# all, so that --cores N never starts more jobs than fit.
if "mem_mb" not in workflow.global_resources:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    workflow.register_resource("mem_mb", int(0.9 * physical / 2**20))


def stamp(rule, settings):
    """The settings stamp of ``rule``, an input of its jobs (a dry run or report previews it)."""
    return stamps.settings_stamp(LAYOUT.results, rule, settings, DRY_RUN or REPORTING)


def per_job(function):
    """``function``, an input or params function, with its signature given to Snakemake
    once: else it reads the signature (about 30 us) up to four times per job."""
    overwrite_function_params(function, get_function_params(function))
    return function


@per_job
def frame(wildcards):
    """The science frame with this key, followed by content (ancient)."""
    return ancient(PLAN.frames[wildcards.key])


@per_job
def frame_digest(wildcards):
    """SHA-256 of the frame's bytes (hex): a parameter, so changed bytes rerun its jobs."""
    return PLAN.frame_digest(wildcards.key)


@per_job
def frame_fields(wildcards):
    """The frame's header keywords, as the index holds them."""
    return PLAN.frame_fields(wildcards.key)


@per_job
def chosen_masters(wildcards):
    """The masters chosen for the frame (:func:`as_inputs`)."""
    return as_inputs(PLAN.masters_of(wildcards.key))


@per_job
def master_choice(wildcards):
    """The frame's master choice as its plain tuple (MasterChoice.as_param), a parameter."""
    return PLAN.choices[wildcards.key].as_param()


def as_inputs(masters):
    """Masters as jobs' inputs: those this run builds by time, the others ancient."""
    return [path if rebuilt else ancient(path) for path, rebuilt in masters]
