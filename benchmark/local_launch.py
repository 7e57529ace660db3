"""The local launcher: groups in this process (one worker) or in a pool of spawned worker processes."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import worker
from .grouping import Group
from .resources import Resources


def launch(todo: list[Group], job):
    """The launcher interface (launch.Job in, each group's [(record, samples), ...] out as it finishes): in
    this process, or in a pool of ``job.workers`` spawned processes."""
    if job.workers > 1 and len(todo) > 1:
        return results_in_workers(todo, job.workers, job.resources.inception_weights, job.results_dir)
    return results_in_process(todo, job.resources, job.progress, job.results_dir)


def results_in_process(todo: list[Group], resources: Resources, progress: bool, results_dir: Path):
    for group in todo:
        yield worker.run_group(group, resources, results_dir, progress=progress)


def results_in_workers(todo: list[Group], workers: int, inception_weights: str | None, results_dir: Path):
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
    stop = ctx.Event()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker.init_worker,
                             initargs=(threads, inception_weights, stop)) as pool:
        futures = [pool.submit(worker.execute_in_pool, group, results_dir) for group in todo]
        try:
            for future in as_completed(futures):
                out = future.result()
                if out is not None:
                    yield out
        finally:  # Ctrl-C (or any error): no queued run may start; the runs in flight stop at their next update
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
