"""The Slurm launcher on a real scheduler (scripts/local_slurm.sh starts one on this machine; .ci/run does):
a sweep equals the local launcher's, preemption and time limits checkpoint, requeue and resume to the
uninterrupted result, scancel leaves a run unfinished, Ctrl-C of the driver cancels its jobs."""
import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from benchmark.cli import main
from benchmark.regularizers import REGULARIZERS
from benchmark.slurm import SlurmRun
from benchmark.train import Stopped


def _slurm_up() -> str | None:
    """Why the real-Slurm tests cannot run here, or None."""
    if not shutil.which("sbatch"):
        return "no sbatch on PATH: run scripts/local_slurm.sh (as root) to start a single-node Slurm"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo failed ({exc}): run scripts/local_slurm.sh"
    if not any(state.startswith(("idle", "mix", "alloc")) for state in out.stdout.split()):
        return f"no Slurm node is up (sinfo: {out.stdout.strip() or out.stderr.strip()}): run scripts/local_slurm.sh"
    return None


needs_slurm = pytest.mark.skipif(_slurm_up() is not None, reason=str(_slurm_up()))

# one run per job with both CPUs: the same torch threads as an in-process run, so the same numbers
SLURM = ["--launcher", "slurm", "--slurm-partition", "debug", "--cpus-per-run", "2"]


ACTIVE = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "REQUEUE_HOLD", "SUSPENDED")


def our_jobs(name: str) -> list[tuple[str, str]]:
    out = subprocess.run(["squeue", "-h", "-r", "-n", name, "-o", "%i|%T"], capture_output=True, text=True,
                         timeout=20)
    return [tuple(line.split("|")) for line in out.stdout.split()]


@pytest.fixture
def slurm_jobs():
    """The job name our sweeps submit under; no job of it may outlive the test."""
    name = "regbench-tiny"
    subprocess.run(["scancel", "-n", name], timeout=20)  # what an earlier, aborted session may have left
    wait_for(lambda: not [j for j in our_jobs(name) if j[1] in ACTIVE], 30, "earlier jobs to end")
    yield name
    deadline = time.time() + 30
    while [j for j in our_jobs(name) if j[1] in ACTIVE] and time.time() < deadline:
        time.sleep(1)
    left = [j for j in our_jobs(name) if j[1] in ACTIVE]
    subprocess.run(["scancel", "-n", name], timeout=20)
    assert not left, f"the test left Slurm jobs running: {left}"


def start(suite, results, *extra):
    # SIGINT back to Python's default: a background job's children start with it ignored
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from benchmark.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, "run", str(suite), "--results", str(results), "--quiet",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def records(folder):
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@needs_slurm
def test_a_slurm_sweep_equals_the_local_launcher(write_suite, tmp_path, slurm_jobs, assert_logged):
    suite = write_suite({"settings": ["C"], "steps": 20})
    assert main(["run", str(suite), "--results", str(tmp_path / "slurm"), "--quiet", *SLURM,
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    assert main(["run", str(suite), "--results", str(tmp_path / "local"), "--quiet"]) == 0
    on_slurm, local = records(tmp_path / "slurm" / "tiny"), records(tmp_path / "local" / "tiny")
    assert on_slurm.keys() == local.keys() and len(local) == 2
    for run_id, record in on_slurm.items():
        assert record["status"] == "ok" and record["environment"]["threads"] == local[run_id]["environment"]["threads"]
        assert record["fid"] == pytest.approx(local[run_id]["fid"], rel=1e-6)
        assert record["slurm_requeues"] == 0
        assert_logged(tmp_path / "tb" / "tiny" / run_id, record)  # each job wrote its own TensorBoard run


def _interrupted_then_compared(suite, tmp_path, slurm_jobs, interrupt, *extra, timeout=240):
    """Run ``suite`` (one run) on Slurm, call ``interrupt(job_id)`` once its first checkpoint exists, wait for the
    sweep, and return (its record, the same run's record from the local launcher, uninterrupted)."""
    folder = tmp_path / "slurm" / "tiny"
    proc = start(suite, tmp_path / "slurm", *SLURM, *extra)
    try:
        wait_for(lambda: list((folder / "checkpoints").glob("*.pt")), 120, "the job's first checkpoint")
        (job_id, state), = our_jobs(slurm_jobs)
        interrupt(job_id)
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    (record,) = records(folder).values()
    assert main(["run", str(suite), "--results", str(tmp_path / "local"), "--quiet"]) == 0
    (local,) = records(tmp_path / "local" / "tiny").values()
    return record, local


@needs_slurm
def test_preemption_checkpoints_requeues_and_resumes_to_the_uninterrupted_result(write_suite, tmp_path, slurm_jobs):
    # lecam: its moving averages are regularizer state, which the requeued job must get back too
    suite = write_suite({"regularizers": [{"name": "lecam", "params": {"ema_start": 0, "decay": 0.9}}],
                         "settings": ["C"], "steps": 600, "batch_size": 64, "log_every": 50,
                         "checkpoint_every": 50})
    # what Slurm sends a job it preempts (and, signal_delay_s early, one reaching its time limit)
    record, local = _interrupted_then_compared(
        suite, tmp_path, slurm_jobs, lambda job: subprocess.run(["scancel", "--signal=USR2", job], check=True))
    assert record["status"] == "ok" and record["slurm_requeues"] == 1 and record["resumed_from_step"] > 0
    assert record["steps_done"] == 600
    assert record["fid"] == pytest.approx(local["fid"], rel=1e-6)
    assert not list((tmp_path / "slurm" / "tiny" / "checkpoints").glob("*.pt"))


@pytest.fixture
def slow(tmp_path):
    """A regularizer that waits 10 ms after each D step in a Slurm job: a job's length that does not depend on the
    CPU. Waiting changes no number, so the same run outside Slurm is the uninterrupted reference."""
    (tmp_path / "slow.py").write_text(
        "import os, time\n"
        "from benchmark.regularizers import Regularizer, register_regularizer\n\n"
        "@register_regularizer('slow')\n"
        "class Slow(Regularizer):\n"
        "    def after_d_step(self, discriminator):\n"
        "        if 'SLURM_JOB_ID' in os.environ:  # slow in a Slurm job only: the local reference run is quick\n"
        "            time.sleep(0.01)\n")
    yield {"plugins": ["slow.py"], "regularizers": ["slow"], "settings": ["C"], "batch_size": 8}
    REGULARIZERS._entries.pop("slow", None), REGULARIZERS._origins.pop("slow", None)  # the in-process reruns


@needs_slurm
def test_a_fused_group_past_its_time_limit_requeues_and_finishes_ok(write_suite, tmp_path, slurm_jobs, slow):
    # two seeds as one fused group, one job: over 40 s of training (10 ms per member per D step) under a 1-minute
    # limit, told 20 s before it (Slurm's 30 s timer: 10-40 s into the job), so at least one requeue, and the
    # group resumes from its one checkpoint. (A solo run's requeue: the preemption test above.)
    suite = write_suite({**slow, "steps": 1750, "log_every": 50, "checkpoint_every": 250, "seeds": [0, 1],
                         "fuse": 2})
    proc = start(suite, tmp_path / "slurm", *SLURM, "--slurm-time", "1", "--slurm-signal-delay", "20")
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err
    assert "submitted 1 jobs" in err and "for 2 runs" in err
    fused = records(tmp_path / "slurm" / "tiny")
    assert len(fused) == 2
    for record in fused.values():
        assert record["status"] == "ok" and record["slurm_requeues"] >= 1 and record["resumed_from_step"] > 0
        assert record["steps_done"] == 1750 and record["fused"]["size"] == 2
    assert main(["run", str(suite), "--results", str(tmp_path / "local"), "--quiet"]) == 0
    local = records(tmp_path / "local" / "tiny")
    for run_id, record in fused.items():
        assert local[run_id]["resumed_from_step"] is None
        assert record["fid"] == pytest.approx(local[run_id]["fid"], rel=1e-6)


@needs_slurm
def test_scancel_leaves_the_run_unfinished_and_a_rerun_completes_it(write_suite, tmp_path, slurm_jobs, slow):
    # over 10 s: it outlives scancel's SIGTERM (which submitit ignores) until Slurm's SIGKILL, KillWait (5 s) later
    suite = write_suite({**slow, "steps": 1000, "log_every": 50, "checkpoint_every": 50})
    folder = tmp_path / "slurm" / "tiny"
    proc = start(suite, tmp_path / "slurm", *SLURM)
    try:
        wait_for(lambda: list((folder / "checkpoints").glob("*.pt")), 120, "the job's first checkpoint")
        (job_id, _), = our_jobs(slurm_jobs)
        subprocess.run(["scancel", job_id], check=True)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "1 lost (run again to finish them)" in out, out + err
    assert not records(folder)  # unfinished, not failed
    assert main(["run", str(suite), "--results", str(tmp_path / "slurm"), "--quiet"]) == 0
    (record,) = records(folder).values()
    assert record["status"] == "ok" and record["resumed_from_step"] > 0


@needs_slurm
def test_ctrl_c_of_the_driver_cancels_the_jobs_it_submitted(write_suite, tmp_path, slurm_jobs):
    suite = write_suite({"regularizers": ["none", "spectral_norm", "weight_norm"], "settings": ["C"],
                         "steps": 3000, "batch_size": 64})
    proc = start(suite, tmp_path / "slurm", *SLURM)
    wait_for(lambda: len(our_jobs(slurm_jobs)) == 3, 60, "three submitted jobs")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "cancelled 3 jobs" in err, err
    wait_for(lambda: all(state not in ("PENDING", "RUNNING") for _, state in our_jobs(slurm_jobs)), 30,
             "the jobs to be cancelled")


def test_a_run_that_keeps_reaching_its_time_limit_is_recorded_failed_with_the_reason(write_suite):
    # submitit's handler refuses to requeue past --slurm-max-requeues: the run is failed, saying what to do
    from benchmark.suite import expand, load_suite

    (spec,) = expand(load_suite(write_suite({"regularizers": ["none"], "settings": ["C"]})))

    def stopped_run(*args, should_stop):
        raise Stopped(120)

    def refusing_handler(signum, frame):
        raise RuntimeError("Job not requeued because: timed-out too many times.")

    previous = signal.signal(signal.SIGUSR2, refusing_handler)
    try:
        (out,) = SlurmRun(stopped_run, requeues=10)([spec], "unused", None, 1)  # a group of one
    finally:
        signal.signal(signal.SIGUSR2, previous)
    record = out["record"]
    assert record["status"] == "failed" and record["slurm_requeues"] == 11
    assert "timed-out too many times" in record["error"] and "update 120 of 4" in record["error"]
    assert "--retry-failed" in record["error"] and "--slurm-time" in record["error"]
