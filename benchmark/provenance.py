"""Where a result came from: the code (package version, git commit, whether it was dirty), the machine
(CPU model and vector ISA, boot, host) and the software (python, torch, torch-fidelity). Results record it so
that a number can be traced, and so that runs from two machines are never taken for one."""
from __future__ import annotations

import functools
import platform
import resource
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import torch
import torch_fidelity


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB. Linux's VmHWM where there is one: getrusage's ru_maxrss
    carries the parent's peak over fork and exec, so a worker spawned by an 800 MiB driver read >= 800 MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


# what decides a run's numbers: a checkout whose other files changed (a fresh report from `make bench`, an edited
# suite, whose own hash every result records) is not running other code
CODE = ("benchmark", "examples", "pyproject.toml")


def git_state(repo: Path) -> tuple[str | None, bool]:
    """(commit, dirty) of the checkout whose top is ``repo``, else (None, False). Dirty: tracked code files
    (CODE) differ from the commit."""
    try:
        top, _, commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--show-toplevel", "HEAD"],
                                        capture_output=True, text=True, timeout=10).stdout.partition("\n")
        # an installed copy inside someone else's repository (a venv in a project) is not that project's code
        commit = commit.strip() if top and Path(top).resolve() == Path(repo).resolve() else None
        dirty = bool(commit) and bool(subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", *CODE],
            capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):  # no git, or not a checkout: the version must do
        commit, dirty = None, False
    return commit or None, dirty


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """Which regbench made a result: the package version and, from a git checkout, the commit (dirty when
    its code differs from it, so a result from uncommitted code says so)."""
    try:
        version = metadata.version("regbench")
    except metadata.PackageNotFoundError:
        version = None
    commit, dirty = git_state(Path(__file__).resolve().parents[1])
    return {"regbench": version, "git_commit": commit, "git_dirty": dirty}


def boot_id() -> str | None:
    """This boot of this machine (Linux's random boot id): two VMs with the same CPU name and host name run
    at different speeds, and only this tells their timings apart."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's model name: float32 kernels round differently on different CPUs (their vector instructions, see
    ``cpu_capability``), so the same seed trains the same run only on the same kind of CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    return {**code_version(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_fidelity": torch_fidelity.__version__, "platform": platform.platform(),
            "host": socket.gethostname(), "boot_id": boot_id(), "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
            or platform.machine(), "cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(),
            "cudnn_benchmark": device.type == "cuda"}
