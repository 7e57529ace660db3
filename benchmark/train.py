"""One GAN training run: n_dis discriminator steps per generator step, Adam.

It returns the trained generator and what happened; scoring and storage are
someone else's job. The trainer never names a regularizer: it calls the hooks
the run's regularizer overrides (see regularizers/base.py).
"""
from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from .backends import build, resolve_device  # noqa: F401  (build: the public way to make a run's modules)
from .checkpoint import Checkpoint
from .data import to_unit_range
from .grouping import group_hash
from .latent import sample_latent
from .probes import named_weight_layers, spectral_norms
from .regularizers import Regularizer
from .steps import group_steps
from .suite import RunSpec


@dataclass
class TrainOutcome:
    generator: nn.Module
    discriminator: nn.Module
    status: str  # "ok" or "diverged"
    steps_done: int
    sec_per_100_updates: float | None
    history: dict = field(default_factory=dict)
    error: str | None = None
    resumed_from: int | None = None
    d_passes: str = "separate"  # as run: D with batch statistics always sees real and fake apart
    regularizer: Regularizer | None = None  # with the state it ended in
    group_size: int = 1  # fused: the members trained with it as one model (sec_per_100_updates is its share)
    group_sec_per_100_updates: float | None = None  # fused: the whole group's time per 100 updates


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # kernels run async: the clock must wait for them


class _CtrlC:
    """While training: the first Ctrl-C asks the loop to stop after the current update (and checkpoint);
    a second one interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class Stopped(BaseException):
    """Raised by train() at an update boundary when ``should_stop`` says so (a Slurm job told its time is up,
    or that it is preempted), after the state was checkpointed. A BaseException, like KeyboardInterrupt: no
    ``except Exception`` on the way may turn it into a failed run."""

    def __init__(self, step: int):
        super().__init__(f"stopped after update {step}; state checkpointed")
        self.step = step


def train(spec: RunSpec, real: torch.Tensor, *, progress: bool = True,
          evaluate: Callable[[nn.Module], dict] | None = None, checkpoint: Path | None = None,
          should_stop: Callable[[], bool] | None = None, monitor=None) -> TrainOutcome:
    """Train on ``real`` (uint8, N x C x H x W) for ``spec.steps`` generator updates: a group of one.

    ``evaluate(generator)`` is called every ``evaluation.history_every`` updates for the history; ``checkpoint`` is
    where the state is saved every ``spec.checkpoint_every`` updates and resumed from if it exists.
    ``should_stop()`` is asked before each update: True saves a checkpoint there and raises Stopped.
    ``monitor`` (a tensorboard.RunLog) sees the losses, spectral norms and evaluations as they are recorded.
    Evaluation, spectral-norm probes and checkpoints are kept off the clock.
    """
    return train_group([spec], real, progress=progress, evaluate=None if evaluate is None else [evaluate],
                       checkpoint=checkpoint, should_stop=should_stop,
                       monitors=None if monitor is None else [monitor])[0]


def train_group(specs: list[RunSpec], real: torch.Tensor, *, progress: bool = True,
                evaluate: list[Callable[[nn.Module], dict]] | None = None, checkpoint: Path | None = None,
                should_stop: Callable[[], bool] | None = None, monitors: list | None = None,
                fused: bool | None = None) -> list[TrainOutcome]:
    """Train the runs ``specs`` as one group: one outcome per member, in order. A group of one is a solo run
    (steps.Steps over backends.Plain); a larger one is fused (over backends.Fused; ``fused`` True: also for one)
    The members must differ only in grouping.MEMBER_FIELDS (grouping.make_groups makes such groups).
    ``evaluate`` and ``monitors``: one per member, as train()'s. Timing is the group's: each member's
    ``sec_per_100_updates`` is its share (the group's time / k), ``group_sec_per_100_updates`` the whole.
    A member whose loss (or weights) turn non-finite is ``diverged`` at that log step; the others train on.
    """
    spec = specs[0]
    k = len(specs)
    device = resolve_device(spec.device)
    if device.type == "cuda":  # fixed shapes: let cuDNN time its algorithms once and keep the fastest
        torch.backends.cudnn.benchmark = True
    fused = k > 1 if fused is None else fused
    steps = group_steps(specs, real.shape[1], device, fused=fused)
    trainee = steps.members
    real = real.to(device)
    n, b = real.shape[0], spec.batch_size
    # Batch indices come from a CPU generator, so a run draws the same batches on any device. A plain
    # .to("cuda") of a CPU tensor waits for the GPU to drain (a host sync per D step); from pinned memory,
    # non_blocking, it does not (torch's caching host allocator keeps the buffer until the copy is done).
    sample = ((lambda idx: idx.pin_memory().to(device, non_blocking=True)) if device.type == "cuda"
              else (lambda idx: idx))
    monitors = monitors or [None] * k

    def fresh_history(i: int) -> dict:
        return {"step": [], "d_loss": [], "g_loss": [],
                "sn_layers": [name for name, _ in named_weight_layers(trainee.member(i)[1])], "sn_step": [], "sn": [],
                "eval_step": [], "eval": []}

    histories = [fresh_history(i) for i in range(k)]
    # per member: None while it trains, else (status, error, steps done, train seconds then)
    ended: list[tuple | None] = [None] * k
    ckpt, start_step, train_seconds, resumed_from = Checkpoint(checkpoint), 0, 0.0, None
    config_hash, kind = (group_hash(specs), "fused") if fused else (spec.config_hash, "plain")
    state = ckpt.load(config_hash, kind) if ckpt.exists() else None
    if state is not None:
        trainee.load(state["members"])
        for rng, saved in zip(trainee.data_rngs, state["data_rng"]):
            rng.set_state(saved)
        start_step, train_seconds, resumed_from = state["step"], state["train_seconds"], state["step"]
        histories = state["history"]
        ended = [tuple(m) if m else None for m in state["ended"]]

    for mon in monitors:
        if mon is not None:
            mon.begin(resumed_from)

    # the periods of the off-clock work, read from the spec once rather than every update
    periods = [every for every in (spec.log_every, spec.track_sn_every, spec.evaluation.history_every if evaluate
                                   else 0, spec.checkpoint_every if ckpt.path else 0) if every]

    def due(step: int) -> bool:
        return step == spec.steps or any(step % every == 0 for every in periods)

    def save_checkpoint(step: int) -> None:
        ckpt.save({"kind": kind, "members": trainee.state(), "data_rng": [r.get_state() for r in trainee.data_rngs],
                   "history": histories, "ended": ended, "step": step, "train_seconds": train_seconds,
                   "config_hash": config_hash})

    def indices() -> torch.Tensor:
        """Each member's batch from its own seed's data stream (on the CPU: the same batches on any device)."""
        return torch.cat([torch.randint(n, (b,), generator=rng) for rng in trainee.data_rngs])

    def probe(step: int) -> None:
        for i in range(k):
            if ended[i] is None:
                histories[i]["sn_step"].append(step)
                histories[i]["sn"].append(spectral_norms(trainee.member(i)[1]))
                if monitors[i] is not None:
                    monitors[i].spectral_norms(step, histories[i]["sn_layers"], histories[i]["sn"][-1])

    def off_clock(step: int) -> None:
        """The periodic work that must not count as training time."""
        last = step == spec.steps
        if step % spec.track_sn_every == 0 or last:
            probe(step)
        every = spec.evaluation.history_every
        if evaluate is not None and every and (step % every == 0 or last):
            for i in range(k):
                if ended[i] is not None:
                    continue
                g = trainee.member(i)[0]
                g.eval()
                histories[i]["eval_step"].append(step)
                histories[i]["eval"].append(evaluate[i](g))
                if monitors[i] is not None:
                    monitors[i].evaluation(step, histories[i]["eval"][-1], g)
                g.train()
        if ckpt.path is not None and spec.checkpoint_every and step % spec.checkpoint_every == 0 and not last:
            save_checkpoint(step)

    d_sum = torch.zeros(k, device=device)
    g_sum = torch.zeros(k, device=device)
    step, logged = start_step, start_step
    if start_step == 0:
        probe(0)
    bar = tqdm(total=spec.steps, initial=start_step, desc=spec.label if k == 1 else f"{spec.label} x{k}",
               unit="upd", leave=False, disable=not progress)
    interrupt = _CtrlC()
    _sync(device)
    clock = time.perf_counter()
    try:
        for step in range(start_step + 1, spec.steps + 1):
            # Ctrl-C, or a scheduler's notice: stop at a step boundary, where the state can be saved exactly
            if interrupt.requested or (should_stop is not None and should_stop()):
                if ckpt.path is not None and step - 1 > start_step:
                    train_seconds += time.perf_counter() - clock
                    save_checkpoint(step - 1)
                bar.close()
                if interrupt.requested:
                    raise KeyboardInterrupt(f"stopped after update {step - 1}")
                raise Stopped(step - 1)
            steps.set_lr(step)
            for _ in range(spec.n_dis):
                d_loss = steps.d_step(to_unit_range(real[sample(indices())]))
            g_loss = steps.g_step(spec.g_batch_size)
            d_sum += d_loss.detach()
            g_sum += g_loss.detach()
            if not due(step):
                continue
            # the loop's only host syncs: to log, to catch NaN/inf, and to stop the clock for the periodic work
            _sync(device)
            train_seconds += time.perf_counter() - clock
            if step % spec.log_every == 0 or step == spec.steps:
                since, logged = step - logged, step
                d_means, g_means = [x / since for x in d_sum.tolist()], [x / since for x in g_sum.tolist()]
                d_sum.zero_(), g_sum.zero_()
                finite = trainee.member_finite()
                for i in range(k):
                    if ended[i] is not None:
                        continue
                    h = histories[i]
                    h["step"].append(step)
                    h["d_loss"].append(d_means[i])
                    h["g_loss"].append(g_means[i])
                    if monitors[i] is not None:
                        monitors[i].losses(step, d_means[i], g_means[i], 100.0 * train_seconds / step / k)
                    if not (math.isfinite(d_means[i]) and math.isfinite(g_means[i]) and finite[i]):
                        what = (f"D {d_means[i]}, G {g_means[i]}" if finite[i] or not
                                (math.isfinite(d_means[i]) and math.isfinite(g_means[i])) else "its weights")
                        ended[i] = ("diverged", f"non-finite loss by update {step} ({what})", step, train_seconds)
                bar.update(since)
                if all(e is not None for e in ended):
                    break
            off_clock(step)
            clock = time.perf_counter()
    finally:  # whatever ends the loop, Ctrl-C goes back to its previous handler
        interrupt.restore()
    bar.close()
    outcomes = []
    for i, s in enumerate(specs):
        status, error, done, seconds = ended[i] or ("ok", None, step, train_seconds)
        g, d = trainee.member(i)
        g.eval(), d.eval()
        per_100 = 100.0 * seconds / done if done else None
        outcomes.append(TrainOutcome(
            generator=g, discriminator=d, status=status, steps_done=done,
            sec_per_100_updates=per_100 / k if per_100 is not None else None, history=histories[i], error=error,
            resumed_from=resumed_from, d_passes="joint" if steps.joint else "separate",
            regularizer=trainee.regs[i], group_size=k if fused else 1,
            group_sec_per_100_updates=per_100 if fused else None))
    return outcomes


@torch.no_grad()
def generate(generator: nn.Module, n: int, *, z_dim: int, seed: int, latent: str = "normal",
             batch_size: int = 500) -> torch.Tensor:
    """n images from an eval-mode generator, float in [-1, 1], on the CPU."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    out = [generator(sample_latent(latent, min(batch_size, n - i), z_dim, device=device, generator=rng)).cpu()
           for i in range(0, n, batch_size)]
    return torch.cat(out)
