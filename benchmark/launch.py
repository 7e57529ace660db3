"""Dispatching a suite's runs: skip finished ones, run the rest, write each result as it arrives."""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from .data import load_images
from .errors import CannotWrite, DatasetUnavailable, FeatureExtractorUnavailable
from .lock import FolderLock
from .metrics import Scorer
from .grouping import Group, make_groups
from .run import execute_group
from .slurm import SlurmOptions, results_in_slurm
from .store import (CHECKPOINT_DIR, REFERENCE_DIR, DamagedFile, atomic_write_bytes, move_aside, read_samples,
                    read_plan, samples_path, scan_results, warn, write_json, write_plan, write_result, write_samples)
from .suite import RunSpec, Suite, expand
from .backends import resolve_device


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


class Resources:
    """Training images and scorers, loaded once per sweep and shared by its runs.

    Loading happens before the first run, so a missing dataset or feature
    extractor stops the sweep at once instead of failing every run.
    """

    def __init__(self, *, inception_weights: str | None = None):
        self.inception_weights = inception_weights
        self._images: dict = {}
        self._scorers: dict = {}

    def images(self, spec: RunSpec) -> torch.Tensor:
        key = (spec.dataset, spec.split, spec.image_size, spec.data_root)
        if key not in self._images:
            self._images[key] = load_images(spec.dataset, split=spec.split, size=spec.image_size,
                                            root=spec.data_root)
        return self._images[key]

    def scorer(self, spec: RunSpec) -> Scorer:
        key = (spec.dataset, spec.image_size, spec.evaluation, spec.data_root, resolve_device(spec.device))
        if key not in self._scorers:
            scorer = Scorer(dataset=spec.dataset, image_size=spec.image_size, evaluation=spec.evaluation,
                            data_root=spec.data_root, device=key[-1], weights_path=self.inception_weights)
            scorer.reference  # computed (or read from cache) now, not inside the first run
            self._scorers[key] = scorer
        return self._scorers[key]

    def prepare(self, specs: list[RunSpec]) -> None:
        for spec in specs:
            self.images(spec)
            self.scorer(spec)

    def write_real_data(self, specs: list[RunSpec], results_dir: Path) -> None:
        """The held-out real data's scores, once per protocol, for the report's "real data" row."""
        for spec in specs:
            path = real_data_path(results_dir, self.scorer(spec))
            if not path.exists():
                scorer = self.scorer(spec)
                record = {"suite": spec.suite, "protocol": scorer.protocol(), "real_data": scorer.real_data()}
                write_json(path, record)


def real_data_path(results_dir: Path, scorer: Scorer) -> Path:
    ev = scorer.evaluation
    name = (f"real_data-{scorer.dataset}-{scorer.image_size}px-{ev.fid_real_split}-n{ev.fid_real}"
            f"-{scorer.extractor_name}-{scorer.weights_hash}.json")
    return Path(results_dir) / REFERENCE_DIR / name


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


_WORKER_RESOURCES: Resources | None = None
_STOP = None  # in a local worker: the driver's event "the sweep was interrupted: start no more runs"


def _init_worker(threads: int, inception_weights: str | None, stop=None) -> None:
    global _WORKER_RESOURCES, _STOP
    # small convs do not scale across threads: one thread per worker process uses the cores better
    torch.set_num_threads(threads)
    _WORKER_RESOURCES = Resources(inception_weights=inception_weights)
    _STOP = stop


def _numpy(outs):
    return [(record, None if samples is None else samples.numpy()) for record, samples in outs]


def _execute_in_worker(group: Group, results_dir: Path, should_stop=None):
    spec = group[0]
    return _numpy(execute_group(group, real=_WORKER_RESOURCES.images(spec), scorer=_WORKER_RESOURCES.scorer(spec),
                                progress=False, checkpoint=group.checkpoint(results_dir),
                                should_stop=should_stop))


def _execute_in_pool(group: Group, results_dir: Path):
    """A queued group in a local worker: skipped once the sweep is interrupted. The pool hands each worker its
    next group before the current one ends, so cancelling the queue in the driver cannot stop that one."""
    if _STOP is not None and _STOP.is_set():
        return None
    return _execute_in_worker(group, results_dir)


def _results_in_process(todo: list[Group], resources: Resources, progress: bool, results_dir: Path):
    for group in todo:
        spec = group[0]
        yield _numpy(execute_group(group, real=resources.images(spec), scorer=resources.scorer(spec),
                                   progress=progress, checkpoint=group.checkpoint(results_dir)))


def _results_in_workers(todo: list[Group], workers: int, inception_weights: str | None, results_dir: Path):
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
    stop = ctx.Event()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, inception_weights, stop)) as pool:
        futures = [pool.submit(_execute_in_pool, group, results_dir) for group in todo]
        try:
            for future in as_completed(futures):
                out = future.result()
                if out is not None:
                    yield out
        finally:  # Ctrl-C (or any error): no queued run may start; the runs in flight stop at their next update
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class ClusterOptions:
    """What the ray and slurm launchers reserve per run, and (ray) where the cluster is: ``address``
    None starts a local Ray instance."""

    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0  # fractions share a GPU: 0.25 runs four small runs on one

    @property
    def threads(self) -> int:
        """torch threads inside a run: its whole CPUs."""
        return max(1, int(self.cpus_per_run))


def _remote_run(group: Group, results_dir: str, inception_weights: str | None, threads: int,
                should_stop=None) -> list[dict]:
    """One group (often of one run) inside a Ray worker or Slurm job: paths in, plain dicts out, one per run.
    Ray and Slurm set CUDA_VISIBLE_DEVICES, so a run asking for a GPU sees it as device 0, which spec.device
    'auto' picks."""
    if _WORKER_RESOURCES is None:  # Ray reuses worker processes: load data and scorers once per worker
        _init_worker(threads, inception_weights)
    return [{"record": record, "samples": samples}
            for record, samples in _execute_in_worker(group, Path(results_dir), should_stop)]


def _ray_warm(group: Group, inception_weights: str | None, threads: int) -> int:
    """Load torch, the data and the scorer in a Ray worker before any run is timed there."""
    if _WORKER_RESOURCES is None:
        _init_worker(threads, inception_weights)
    _WORKER_RESOURCES.images(group[0]), _WORKER_RESOURCES.scorer(group[0])
    return os.getpid()


def _results_in_ray(todo: list[Group], workers: int, inception_weights: str | None, results_dir: Path,
                    options: ClusterOptions, timings: dict):
    import ray

    started = time.perf_counter()
    owned = not ray.is_initialized()  # a caller's own Ray session is used as it is, and left running
    if owned and options.address is None:  # a local instance sized to --workers runs
        ray.init(num_cpus=max(1, round(workers * options.cpus_per_run)), include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False, configure_logging=False)
    elif owned:
        ray.init(address=options.address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    print(f"ray: connected in {time.perf_counter() - started:.1f} s ({ray.cluster_resources().get('CPU', 0):g} "
          f"CPUs, {ray.cluster_resources().get('GPU', 0):g} GPUs)", file=sys.stderr)
    try:
        resources = {"num_cpus": options.cpus_per_run, "num_gpus": options.gpus_per_run}
        threads = options.threads
        # one warm-up per worker slot, at once: each lands on its own worker process, which Ray then reuses
        warm = ray.remote(**resources)(_ray_warm)
        pids = ray.get([warm.remote(todo[0], inception_weights, threads) for _ in range(min(workers, len(todo)))])
        timings["startup"] = time.perf_counter() - started
        print(f"ray: {len(set(pids))} workers ready in {timings['startup']:.1f} s", file=sys.stderr)
        task = ray.remote(**resources, max_retries=0)(_remote_run)
        refs = {task.remote(group, str(results_dir), inception_weights, threads): group for group in todo}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            group = refs.pop(done[0])
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayError as exc:  # a worker or node lost: no result, the next run picks it up
                # the node's environment, not the run: the sweep stops with the one message, no run recorded
                if isinstance(getattr(exc, "cause", None), (CannotWrite, DatasetUnavailable,
                                                            FeatureExtractorUnavailable)):
                    raise exc.cause from None
                print(f"ray: {group.describe()} lost ({type(exc).__name__}); {_stays(group)}", file=sys.stderr)
                continue
            yield [(o["record"], o["samples"]) for o in out]
    finally:
        if owned:
            ray.shutdown()


def _stays(group: Group) -> str:
    return "it stays unfinished" if len(group) == 1 else "they stay unfinished"


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
    planned += [g for g in previous if g.get("checkpoint") not in names
                and (results_dir / CHECKPOINT_DIR / str(g.get("checkpoint"))).is_file()]
    write_plan(results_dir, plan(suite, specs, fuse, planned))
    resources.write_real_data(specs, results_dir)
    timings: dict = {}
    if launcher != "local" or workers > 1:
        # longest first, so that no worker is left with a long group at the end while the others idle
        # (the default suite's n_dis-5 runs take 3x its n_dis-1 ones); stable for equal costs
        todo = sorted(todo, key=lambda g: -g[0].steps * (g[0].n_dis + 1) * len(g))
    if not todo:
        results = iter(())
    elif launcher == "ray":
        results = _results_in_ray(todo, workers, resources.inception_weights, results_dir, cluster, timings)
    elif launcher == "slurm":
        results = results_in_slurm(todo, _remote_run, resources.inception_weights, results_dir, cluster.threads,
                                   cluster.gpus_per_run, slurm_options)
    elif workers > 1 and len(todo) > 1:
        results = _results_in_workers(todo, workers, resources.inception_weights, results_dir)
    else:
        results = _results_in_process(todo, resources, progress, results_dir)
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
    summary.startup_seconds = timings.get("startup", 0.0)
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
