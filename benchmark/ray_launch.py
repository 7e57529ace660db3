"""The Ray launcher: one Ray task per group on a local Ray instance or a cluster (``--ray-address``)."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import worker
from .errors import CannotWrite, DatasetUnavailable, FeatureExtractorUnavailable
from .grouping import Group


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


def launch(todo: list[Group], job):
    """The launcher interface (see local_launch.launch): a Ray task per group."""
    return results_in_ray(todo, job.workers, job.resources.inception_weights, job.results_dir, job.cluster,
                          job.timings)


def results_in_ray(todo: list[Group], workers: int, inception_weights: str | None, results_dir: Path,
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
        warm = ray.remote(**resources)(worker.warm)
        pids = ray.get([warm.remote(todo[0], inception_weights, threads) for _ in range(min(workers, len(todo)))])
        timings["startup"] = time.perf_counter() - started
        print(f"ray: {len(set(pids))} workers ready in {timings['startup']:.1f} s", file=sys.stderr)
        task = ray.remote(**resources, max_retries=0)(worker.remote_run)
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
