"""A sweep: skip finished runs, group the rest, record the plan, hand the groups to a launcher (local_launch,
ray_launch, slurm) and write each result as it arrives."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .errors import CannotWrite
from .grouping import checkpointed, make_groups
from . import local_launch, ray_launch, slurm
from .lock import FolderLock
from .ray_launch import ClusterOptions
from .resources import Resources
from .slurm import SlurmOptions
from .store import (DamagedFile, atomic_write_bytes, move_aside, read_plan, read_samples,
                    samples_path, scan_results, warn, write_plan, write_result, write_samples)
from .schema import RunSpec, Suite
from .suite import expand


# every launcher is a module with launch(groups, job), yielding each group's [(record, samples), ...] as it ends
LAUNCHERS = {"local": local_launch.launch, "ray": ray_launch.launch, "slurm": slurm.launch}


@dataclass
class Job:
    """What a launcher is given besides the groups: where results go, and what it may use."""
    results_dir: Path
    workers: int
    resources: Resources
    progress: bool
    cluster: ClusterOptions
    slurm: SlurmOptions
    timings: dict = field(default_factory=dict)  # a launcher's start-up time, reported in the summary


@dataclass
class SweepSummary:
    results_dir: Path
    skipped: int = 0
    counts: dict = field(default_factory=lambda: {"ok": 0, "diverged": 0, "failed": 0})
    seconds: float = 0.0
    startup_seconds: float = 0.0  # of seconds: connecting to Ray and warming its workers
    lost: int = 0  # dispatched but no result came back (worker, node or job lost): unfinished
    peak_run_rss_mb: float = 0.0  # the largest peak memory a run's process reported
    failures: list = field(default_factory=list)  # (run id, the error's last line, its traceback file)

    def failure_lines(self) -> list[str]:
        """Why each run failed, for the console: "1 failed" alone leaves the user to search the folder."""
        return [f"  failed: {run_id}: {error}\n          traceback: {path}" for run_id, error, path in self.failures]

    def line(self) -> str:
        c = self.counts
        lost = f", {self.lost} lost (run again to finish them)" if self.lost else ""
        return (f"{sum(c.values())} runs done ({c['ok']} ok, {c['diverged']} diverged, {c['failed']} failed){lost}, "
                f"{self.skipped} already finished, in {self.seconds:.0f} s; results in {self.results_dir}")


def pending(specs: list[RunSpec], results_dir: Path, *, retry_failed: bool = False) -> list[RunSpec]:
    """The runs without a finished result. A result or samples file that does not read back is moved aside
    (``.damaged``, never deleted) and its run redone; a ``*.json`` that is not a result is named and left alone."""
    scan = scan_results(results_dir)
    for path, why in scan.damaged:
        warn(f"{path}: damaged result ({why}); moved aside to {move_aside(path).name}, its run is redone")
    for path in scan.foreign:
        warn(f"{path}: not a regbench result; ignored")
    planned = {s.run_id for s in specs}
    done = set()
    for r in scan.results:
        if retry_failed and r["status"] == "failed":
            continue
        if r["run_id"] in planned and r["status"] == "ok":
            try:
                read_samples(results_dir, r["run_id"])
            except DamagedFile as exc:
                moved = move_aside(samples_path(results_dir, r["run_id"]))
                warn(f"{exc}; moved aside to {moved.name}, its run is redone")
                continue
        done.add(r["run_id"])
    return [s for s in specs if s.run_id not in done]


def plan(suite: Suite, specs: list[RunSpec], fuse: int | str = 1, groups: list[dict] = ()) -> dict:
    """What this sweep is to produce, for a report of partial results to name the runs still missing, and the
    groups that train them (with their checkpoints: the report says which are in progress, and a later sweep
    resumes a checkpointed group as that group)."""
    return {"suite": suite.name, "path": suite.path, "suite_sha256": suite.source_sha256,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S"), "success_fid": suite.success_fid, "fuse": fuse,
            "runs": [{"run_id": s.run_id, "regularizer": s.label, "setting": s.setting, "seed": s.seed}
                     for s in specs], "groups": list(groups)}


def run_suite(suite: Suite, *, results_root: Path = Path("results"), workers: int = 1, progress: bool = True,
              resources: Resources | None = None, retry_failed: bool = False, launcher: str = "local",
              cluster: ClusterOptions | None = None, slurm_options: SlurmOptions | None = None,
              fuse: int | str | None = None) -> SweepSummary:
    """``fuse``: the most runs per fused group (None: the suite's ``fuse``; 1: every run alone; auto: where it pays)."""
    results_dir = Path(results_root) / suite.name
    with FolderLock(results_dir):
        return _run_locked(suite, results_dir=results_dir, workers=workers, progress=progress,
                           resources=resources, retry_failed=retry_failed, launcher=launcher,
                           cluster=cluster or ClusterOptions(), slurm_options=slurm_options or SlurmOptions(),
                           fuse=suite.fuse if fuse is None else fuse)


def _run_locked(suite: Suite, *, results_dir: Path, workers: int, progress: bool, resources: Resources | None,
                retry_failed: bool, launcher: str, cluster: ClusterOptions,
                slurm_options: SlurmOptions, fuse: int | str) -> SweepSummary:
    specs = expand(suite)
    pending_runs = pending(specs, results_dir, retry_failed=retry_failed)
    summary = SweepSummary(results_dir=results_dir, skipped=len(specs) - len(pending_runs))
    start = time.perf_counter()
    resources = resources or Resources()
    resources.prepare(pending_runs)  # fail fast, and fill the on-disk caches the workers then read
    # the unit of work: a group of runs trained as one (grouping.make_groups); with fuse 1, each run alone
    previous = (read_plan(results_dir) or {}).get("groups", [])
    todo = make_groups(pending_runs, fuse, suite_runs=specs, results_dir=results_dir, previous=previous)
    # a checkpointed group of an earlier sweep that is not trained now (its failed runs wait for
    # --retry-failed) stays in the plan, so that its checkpoint is still known for what it is
    planned = [g.planned() for g in todo]
    names = {g["checkpoint"] for g in planned}
    planned += [g for g in previous if g.get("checkpoint") not in names and checkpointed(g, results_dir)]
    write_plan(results_dir, plan(suite, specs, fuse, planned))
    resources.write_real_data(specs, results_dir)
    if launcher != "local" or workers > 1:
        # longest first, so that no worker is left with a long group at the end while the others idle
        # (the default suite's n_dis-5 runs take 3x its n_dis-1 ones); stable for equal costs
        todo = sorted(todo, key=lambda g: -g[0].steps * (g[0].n_dis + 1) * len(g))
    job = Job(results_dir, workers, resources, progress, cluster, slurm_options)
    results = LAUNCHERS[launcher](todo, job) if todo else iter(())
    # how many runs can be in flight: the bar's "running" (Slurm's queue decides there; show all submitted)
    parallel = len(pending_runs) if launcher == "slurm" else sum(len(g) for g in todo[:workers])
    bar = tqdm(total=len(pending_runs), desc=f"sweep {suite.name}", unit="run", disable=not progress,
               file=sys.stderr)
    group_of = {s.run_id: g for g in todo for s in g}
    pending_ids = {s.run_id for s in pending_runs}
    for group_out in results:
        group = group_of[group_out[0][0]["run_id"]]
        # a resumed group's members that had a result keep it: only the pending runs' results are written
        _write_group([o for o in group_out if o[0]["run_id"] in pending_ids], group.checkpoint(results_dir),
                     results_dir, summary, bar, parallel, len(pending_runs))
    bar.close()
    summary.lost = len(pending_runs) - sum(summary.counts.values())
    summary.seconds = time.perf_counter() - start
    summary.startup_seconds = job.timings.get("startup", 0.0)
    return summary


def _write_group(group_out, checkpoint: Path, results_dir: Path, summary: SweepSummary, bar, parallel: int,
                 total: int) -> None:
    """A finished group's results, each written as it would be alone; the group's checkpoint goes once none
    of them failed (a failed one keeps it for --retry-failed)."""
    keep = False
    for record, samples in group_out:
        try:
            if samples is not None:  # samples first: a result file promises its samples exist
                write_samples(results_dir, record["run_id"], samples)
            write_result(results_dir, record)
        except CannotWrite:  # the run stays unfinished (its checkpoint kept); the sweep stops, every write would fail
            samples_path(results_dir, record["run_id"]).unlink(missing_ok=True)
            raise
        if record["status"] == "failed":  # keeps its checkpoint for --retry-failed; its traceback beside it
            keep = True
            trace = results_dir / f"{record['run_id']}.traceback.txt"
            atomic_write_bytes(trace, record.get("traceback", record["error"] or "").encode())
            last = (record["error"] or "unknown error").strip().splitlines() or ["unknown error"]
            summary.failures.append((record["run_id"], last[-1][:300], trace))
        summary.counts[record["status"]] += 1
        summary.peak_run_rss_mb = max(summary.peak_run_rss_mb, record.get("peak_rss_mb") or 0.0)
        remaining = total - sum(summary.counts.values())
        bar.set_postfix({**{k: v for k, v in summary.counts.items() if v}, "running": min(parallel, remaining)},
                        refresh=False)
        bar.update(1)
    if not keep:
        checkpoint.unlink(missing_ok=True)
