"""The Slurm launcher: one submitit job array per sweep, one job per run, each job checkpointable.

Time limits and preemption: submitit asks Slurm to send SIGUSR2 ``signal_delay_s`` before a job's time limit
(and Slurm sends it on preemption). The job then finishes the update it is in, saves a checkpoint there, and
requeues itself through submitit; the requeued job resumes from that checkpoint, so a run longer than the
partition's limit ends ``ok`` with the scores an uninterrupted run gets. A run that reaches its time limit
more than ``max_requeues`` times is recorded ``failed`` with the reason (its checkpoint stays, for
``--retry-failed`` with a longer ``--slurm-time``).

The driver learns that a job ended without a result (scancel, a node lost, killed past its limit) from
squeue as well as from sacct, because small clusters often run without accounting: such a run is "lost",
left unfinished for the next `regbench run`.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import CannotWrite
from .run import base_record
from .worker import remote_run



def signal_delay_s(time_min: int) -> int:
    """Seconds before the time limit that Slurm is asked to send SIGUSR2. The job then needs the current
    update, a checkpoint and `scontrol requeue`: seconds. Slurm checks time limits every 30 s, so the signal
    comes up to 30 s earlier than asked (measured: asked 20 s before a 1-minute limit, it came 27 s before):
    with 30 s at a 2-minute limit it comes 60-90 s into the job. Long limits keep submitit's 90 s."""
    return 90 if time_min >= 10 else 30
# job states after which no result pickle will come (squeue's long names)
ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT",
         "REVOKED", "SPECIAL_EXIT"}


@dataclass(frozen=True)
class SlurmOptions:
    """submitit's AutoExecutor: a Slurm job array, one job per run. ``cluster`` None means Slurm where
    it is found (else submitit's local executor); "local" and "debug" are submitit's for testing."""

    partition: str | None = None
    time_min: int = 24 * 60
    array_parallelism: int = 64
    cluster: str | None = None
    max_requeues: int = 10  # after time limits; preemptions do not count (the job is not at fault)
    signal_delay_s: int | None = None  # None: signal_delay_s(time_min)


class SlurmRun:
    """One run as a Slurm job. submitit calls it; on SIGUSR2 the run stops at the next update with a
    checkpoint, and submitit's own handler requeues the job with this object (``checkpoint``)."""

    def __init__(self, run, requeues: int = 0):
        self.run = run  # worker.remote_run: spec, results_dir, weights, threads -> {"record", "samples"}
        self.requeues = requeues

    def __call__(self, group, results_dir: str, inception_weights, threads: int) -> list[dict]:
        from .train import Stopped

        noticed = []
        main = threading.current_thread() is threading.main_thread()  # submitit's debug executor may not be
        submitit_handler = signal.getsignal(signal.SIGUSR2)  # submitit's: checkpoint() and scontrol requeue
        if main:
            signal.signal(signal.SIGUSR2, lambda signum, frame: noticed.append(signum))
        try:
            out = self.run(group, results_dir, inception_weights, threads, should_stop=lambda: bool(noticed))
        except Stopped as stopped:
            if not callable(submitit_handler):  # not under submitit's job runner: nothing can requeue us
                raise
            self.requeues += 1
            try:
                submitit_handler(signal.SIGUSR2, None)  # requeues and exits the process
            except Exception as exc:  # submitit refused: too many time limits
                return [{"record": _failed(spec, f"{exc} Its checkpoint is at update {stopped.step} of {spec.steps}; "
                                                 "rerun with --retry-failed and a longer --slurm-time (or more "
                                                 "--slurm-max-requeues) to continue it.", self.requeues),
                         "samples": None} for spec in group]
            raise
        finally:
            if main:
                signal.signal(signal.SIGUSR2, submitit_handler)
        for one in out:
            one["record"]["slurm_requeues"] = self.requeues
        return out

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def _failed(spec, error: str, requeues: int) -> dict:
    record = base_record(spec)
    record.update(status="failed", error=error, slurm_requeues=requeues,
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return record


def _has_result(job) -> bool:
    folder = job.paths.folder
    try:  # on NFS a stat of the folder refreshes what exists() sees
        folder.chmod(folder.stat().st_mode)
    except OSError:
        pass
    return job.paths.result_pickle.exists()


def _squeue_states(job_ids: list[str]) -> dict[str, str] | None:
    """job id -> state for the given jobs (array tasks as 12_3), from squeue; None when squeue fails."""
    arrays = sorted({j.split("_")[0] for j in job_ids})
    try:
        # -r: one line per array task (pending tasks are otherwise folded into one line, 12_[1-5])
        out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(arrays), "-o", "%i|%T"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None
    return dict(line.split("|", 1) for line in out.stdout.split() if "|" in line)


def launch(todo, job):
    """The launcher interface (see local_launch.launch): a Slurm job per group, through submitit."""
    return results_in_slurm(todo, remote_run, job.resources.inception_weights, job.results_dir, job.cluster.threads,
                            job.cluster.gpus_per_run, job.slurm)


def results_in_slurm(todo, run, inception_weights, results_dir: Path, threads: int, gpus: float,
                     options: SlurmOptions, poll_s: float = 1.0):
    """Submit ``todo`` (groups of runs, suite.groups) as a job array, one job per group, and yield each
    group's [(record, samples), ...] as its job finishes. On Ctrl-C (or any exit
    before the end) the jobs still queued or running are cancelled."""
    import submitit

    executor = submitit.AutoExecutor(folder=results_dir / "slurm_logs" / "%j", cluster=options.cluster,
                                     slurm_max_num_timeout=options.max_requeues)
    params = {"timeout_min": options.time_min, "cpus_per_task": threads, "name": f"regbench-{todo[0][0].suite}",
              "slurm_array_parallelism": options.array_parallelism}
    if executor.cluster == "slurm":
        params["slurm_signal_delay_s"] = options.signal_delay_s or signal_delay_s(options.time_min)
    if gpus:
        params["gpus_per_node"] = max(1, round(gpus))
    if options.partition:
        params["slurm_partition"] = options.partition
    executor.update_parameters(**params)
    n = len(todo)
    jobs = executor.map_array(SlurmRun(run), todo, [str(results_dir)] * n, [inception_weights] * n, [threads] * n)
    print(f"slurm: submitted {n} jobs ({executor.cluster}) for {sum(map(len, todo))} runs, logs in "
          f"{results_dir / 'slurm_logs'}", file=sys.stderr)
    waiting = dict(zip(jobs, todo))
    on_slurm = executor.cluster == "slurm"
    ended_since: dict = {}  # job -> when squeue first said it ended (its result may still be landing)
    last_squeue = 0.0
    try:
        while waiting:
            # on Slurm a job's result file says it is done; job.done() would also ask sacct, which small
            # clusters often lack (it then prints an error per poll): squeue tells the jobs that ended without one
            finished = [job for job in waiting if (_has_result(job) if on_slurm else job.done())]
            if not finished and on_slurm and time.monotonic() - last_squeue > 5:
                last_squeue = time.monotonic()
                states = _squeue_states([job.job_id for job in waiting])
                for job in waiting:
                    if states is not None and (states.get(job.job_id) in ENDED or job.job_id not in states):
                        ended_since.setdefault(job, time.monotonic())
                    else:  # requeued: running again
                        ended_since.pop(job, None)
                finished = [job for job, t in ended_since.items() if job in waiting and time.monotonic() - t > 5]
            if not finished:
                time.sleep(poll_s)
                continue
            for job in finished:
                group = waiting.pop(job)
                what = (f"run {group[0].run_id}" if len(group) == 1 else
                        f"fused group of {len(group)} runs from {group[0].run_id}")
                try:
                    out = job.result() if _has_result(job) or not on_slurm else None  # else result() waits forever
                except CannotWrite:  # the job could not save its checkpoint: the sweep stops, as the driver's would
                    raise
                except Exception as exc:  # job killed or timed out without a checkpoint: the rerun picks it up
                    print(f"slurm: {what} (job {job.job_id}) lost ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); it stays unfinished", file=sys.stderr)
                    continue
                if out is None:
                    print(f"slurm: {what} (job {job.job_id}) ended without a result "
                          f"({(_squeue_states([job.job_id]) or {}).get(job.job_id, 'gone from squeue')}); "
                          "it stays unfinished", file=sys.stderr)
                    continue
                yield [(one["record"], one["samples"]) for one in out]
    finally:
        if waiting:  # Ctrl-C or an error in the driver: the cluster must not go on computing for nobody
            for job in waiting:
                try:
                    job.cancel(check=False)
                except Exception:
                    pass
            print(f"slurm: cancelled {len(waiting)} jobs still queued or running", file=sys.stderr)
