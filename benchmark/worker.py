"""What a worker process (a local pool's, Ray's, a Slurm job's) does with a group: load the data and scorers
once per process, run the group, hand back plain data (records and numpy samples) that pickles cheaply."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .backends import resolve_device
from .grouping import Group
from .interrupts import CtrlC
from .resources import Resources
from .run import execute_group

_WORKER_RESOURCES: Resources | None = None
_STOP = None  # in a local worker: the driver's event "the sweep was interrupted: start no more runs"


def init_worker(threads: int, inception_weights: str | None, stop=None) -> None:
    global _WORKER_RESOURCES, _STOP
    # small convs do not scale across threads: one thread per worker process uses the cores better
    torch.set_num_threads(threads)
    _WORKER_RESOURCES = Resources(inception_weights=inception_weights)
    _STOP = stop


def numpy_outputs(outs):
    return [(record, None if samples is None else samples.numpy()) for record, samples in outs]


def run_group(group: Group, resources: Resources, results_dir: Path, *, progress: bool, should_stop=None):
    """A group in this process, as every launcher runs one: the process's device flags set, Ctrl-C turned into a
    stop after the current update (interrupts.CtrlC), the data and scorer from ``resources``."""
    spec = group[0]
    if resolve_device(spec.device).type == "cuda":  # fixed shapes: let cuDNN time its algorithms once, keep the fastest
        torch.backends.cudnn.benchmark = True
    with CtrlC(also=should_stop) as ctrl_c:
        return numpy_outputs(execute_group(group, real=resources.images(spec), scorer=resources.scorer(spec),
                                           progress=progress, checkpoint=group.checkpoint(results_dir),
                                           should_stop=ctrl_c.should_stop))


def execute_in_worker(group: Group, results_dir: Path, should_stop=None):
    return run_group(group, _WORKER_RESOURCES, results_dir, progress=False, should_stop=should_stop)


def execute_in_pool(group: Group, results_dir: Path):
    """A queued group in a local worker: skipped once the sweep is interrupted. The pool hands each worker its
    next group before the current one ends, so cancelling the queue in the driver cannot stop that one."""
    if _STOP is not None and _STOP.is_set():
        return None
    return execute_in_worker(group, results_dir)


def remote_run(group: Group, results_dir: str, inception_weights: str | None, threads: int,
               should_stop=None) -> list[dict]:
    """One group (often of one run) inside a Ray worker or Slurm job: paths in, plain dicts out, one per run.
    Ray and Slurm set CUDA_VISIBLE_DEVICES, so a run asking for a GPU sees it as device 0, which spec.device
    'auto' picks."""
    if _WORKER_RESOURCES is None:  # Ray reuses worker processes: load data and scorers once per worker
        init_worker(threads, inception_weights)
    return [{"record": record, "samples": samples}
            for record, samples in execute_in_worker(group, Path(results_dir), should_stop)]


def warm(group: Group, inception_weights: str | None, threads: int) -> int:
    """Load torch, the data and the scorer in a Ray worker before any run is timed there."""
    if _WORKER_RESOURCES is None:
        init_worker(threads, inception_weights)
    _WORKER_RESOURCES.images(group[0]), _WORKER_RESOURCES.scorer(group[0])
    return os.getpid()
