"""The demo through profiles/slurm on a real one-node SLURM cluster, started here.

Needs Debian's slurmctld, slurmd, slurm-client and munge (.ci/run installs
them) and root; otherwise skipped with the reason.
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms.demo import survey
from tests.helpers import REPO, snakemake

DAEMONS = ("munged", "slurmctld", "slurmd", "sinfo")
PIDS = {
    "slurmd": Path("/run/slurm/slurmd.pid"),
    "slurmctld": Path("/run/slurm/slurmctld.pid"),
    "munged": Path("/run/munge/munged.pid"),
}


def missing():
    """Why a SLURM cluster cannot be started here, or None."""
    absent = [d for d in DAEMONS if not shutil.which(d) and not Path(f"/usr/sbin/{d}").exists()]
    if absent:
        return f"SLURM is not installed ({', '.join(absent)} not found; see .ci/run)"
    if os.geteuid() != 0:
        return "starting SLURM daemons needs root"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed"
    return None


def wait_for(check, what, seconds=30, state=lambda: ""):
    """Poll check() until true; on timeout, say what state() reports."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {seconds} s waiting for {what} {state()}".strip())


def quiet(*command):
    return subprocess.run(command, capture_output=True, text=True)


def slurm_conf(host: str) -> str:
    cpus = os.cpu_count()
    memory = int(0.9 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    return f"""ClusterName=skyrms-test
SlurmctldHost={host}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerParameters=batch_sched_delay=0,sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
MailProg=/bin/true
SlurmUser=slurm
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile={PIDS["slurmctld"]}
SlurmdPidFile={PIDS["slurmd"]}
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def stop(name):
    pid_file = PIDS[name]
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), f"{name} to stop")


@pytest.fixture(scope="module")
def cluster():
    """A running one-node cluster, configured in /etc/slurm/slurm.conf while it runs.

    The file is removed (or the previous one restored) afterwards: a slurm.conf
    naming a stopped controller makes every later Snakemake start wait about
    9 s, because the SLURM plugin asks scontrol when it is imported. (Jobs'
    srun does not see a SLURM_CONF set here, so the standard place is used.)
    """
    reason = missing()
    if reason:
        pytest.skip(reason)
    host = socket.gethostname().split(".")[0]
    for folder, owner in (
        ("/run/munge", "munge"), ("/var/spool/slurmctld", "slurm"), ("/var/spool/slurmd", "root"),
        ("/var/log/slurm", "slurm"), ("/run/slurm", "slurm"),
    ):  # fmt: skip
        os.makedirs(folder, exist_ok=True)
        shutil.chown(folder, owner, owner)
    conf = Path("/etc/slurm/slurm.conf")
    previous = conf.read_bytes() if conf.exists() else None
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(slurm_conf(host))
    started = []
    try:
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        started.append("munged")
        wait_for(
            lambda: (
                subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode
                == 0
            ),
            "munge",
        )
        # -c: start from a clean state; jobs and node states saved by an
        # earlier run (one killed before its clean-up) would keep the node busy.
        subprocess.run(["/usr/sbin/slurmctld", "-c"], check=True)
        started.append("slurmctld")
        subprocess.run(["/usr/sbin/slurmd"], check=True)
        started.append("slurmd")
        wait_for(
            lambda: quiet("sinfo", "-h", "-o", "%t").stdout.strip() == "idle",
            "an idle node",
            seconds=90,
            state=lambda: quiet("sinfo", "-h", "-o", "%t %E").stdout.strip(),
        )
        yield host
    finally:
        for name in reversed(started):
            stop(name)
        if previous is None:
            conf.unlink()
        else:
            conf.write_bytes(previous)


def test_one_night_on_slurm_equals_the_local_run(cluster, demo_run, tmp_path):
    """The newest night of one unit, as a nightly run would select it (from the header index)."""
    workdir = tmp_path / "slurm"
    shutil.copytree(demo_run / "demo", workdir / "demo", symlinks=True)
    config = {
        "inputs": {"unit": "7DT02", "newest_nights": 1},
        "outputs": {"quicklook": False},
    }
    run = snakemake(
        workdir,
        "--workflow-profile", str(REPO / "profiles" / "slurm"),
        "--jobs", "4",
        "--default-resources", "slurm_partition=debug", "runtime=10", "mem_mb=500",
        "--slurm-init-seconds-before-status-checks", "1",
        "--slurm-status-command", "squeue",
        config=config,
    )  # fmt: skip
    assert "has been submitted with SLURM jobid" in run.stdout
    made = {p.name for p in (workdir / "results").rglob("*.proprms.fits")}
    night = {
        os.path.basename(f.relpath).replace(".fits", ".proprms.fits")
        for f in survey.plan()[0]
        if f.unit == "7DT02" and f.date_obs.startswith("2025-11-22")
    }
    assert len(night) == 5 and made == night
    for product in (workdir / "results").rglob("*.fits"):
        local = demo_run / product.relative_to(workdir)
        assert np.array_equal(fits.getdata(product, ext=-1), fits.getdata(local, ext=-1)), product
