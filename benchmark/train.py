"""One GAN training run: n_dis discriminator steps per generator step, Adam.

It returns the trained generator and what happened; scoring and storage are
someone else's job. The trainer never names a regularizer: it calls the hooks
the run's regularizer overrides (see regularizers/base.py).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from .backends import resolve_device
from .checkpoint import Checkpoint
from .data import to_unit_range
from .latent import sample_latent
from .probes import named_weight_layers, spectral_norms
from .regularizers import Regularizer
from .steps import group_steps
from .schema import RunSpec, group_hash


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


class Stopped(BaseException):
    """Raised by train() at an update boundary when ``should_stop`` says so (Ctrl-C, or a Slurm job told its
    time is up or that it is preempted), after the state was checkpointed. A BaseException, like KeyboardInterrupt: no
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
    (steps.Steps over backends.Plain); a larger one is fused (over backends.Fused; ``fused`` True: also for one).
    The members must differ only in grouping.MEMBER_FIELDS (grouping.make_groups makes such groups).
    ``evaluate`` and ``monitors``: one per member, as train()'s. Timing is the group's: each member's
    ``sec_per_100_updates`` is its share (the group's time / k), ``group_sec_per_100_updates`` the whole.
    A member whose loss (or weights) turn non-finite is ``diverged`` at that log step; the others train on.
    """
    return _Training(specs, real, progress=progress, evaluate=evaluate, checkpoint=checkpoint,
                     should_stop=should_stop, monitors=monitors, fused=fused).run()


class _Training:
    """One group's training loop and the bookkeeping around it: history, divergence, checkpoints, the clock."""

    def __init__(self, specs, real, *, progress, evaluate, checkpoint, should_stop, monitors, fused):
        self.specs, self.spec, self.k = specs, specs[0], len(specs)
        self.device = resolve_device(self.spec.device)
        self.fused = self.k > 1 if fused is None else fused
        self.steps = group_steps(specs, real.shape[1], self.device, fused=self.fused)
        self.members = self.steps.members
        self.real = real.to(self.device)
        self.progress, self.evaluate, self.should_stop = progress, evaluate, should_stop
        self.monitors = monitors or [None] * self.k
        self.histories = [self._fresh_history(i) for i in range(self.k)]
        # per member: None while it trains, else (status, error, steps done, train seconds then)
        self.ended: list[tuple | None] = [None] * self.k
        self.ckpt = Checkpoint(checkpoint)
        self.start_step, self.train_seconds, self.resumed_from = 0, 0.0, None
        self.config_hash, self.kind = (group_hash(specs), "fused") if self.fused else (self.spec.config_hash, "plain")
        spec = self.spec
        # the periods of the off-clock work, read from the spec once rather than every update
        self.periods = [every for every in (spec.log_every, spec.track_sn_every, spec.evaluation.history_every
                                            if evaluate else 0, spec.checkpoint_every if self.ckpt.path else 0) if every]

    def _fresh_history(self, i: int) -> dict:
        return {"step": [], "d_loss": [], "g_loss": [],
                "sn_layers": [name for name, _ in named_weight_layers(self.members.member(i)[1])], "sn_step": [],
                "sn": [], "eval_step": [], "eval": []}

    def _resume(self) -> None:
        state = self.ckpt.load(self.config_hash, self.kind) if self.ckpt.exists() else None
        if state is None:
            return
        self.members.load(state["members"])
        for rng, saved in zip(self.members.data_rngs, state["data_rng"]):
            rng.set_state(saved)
        self.start_step, self.train_seconds, self.resumed_from = state["step"], state["train_seconds"], state["step"]
        self.histories = state["history"]
        self.ended = [tuple(m) if m else None for m in state["ended"]]

    def _save(self, step: int) -> None:
        m = self.members
        self.ckpt.save({"kind": self.kind, "members": m.state(), "data_rng": [r.get_state() for r in m.data_rngs],
                        "history": self.histories, "ended": self.ended, "step": step,
                        "train_seconds": self.train_seconds, "config_hash": self.config_hash})

    def _batch(self) -> torch.Tensor:
        """Each member's batch from its own seed's data stream, drawn on the CPU (the same batches on any
        device). A plain .to("cuda") of a CPU tensor waits for the GPU to drain (a host sync per D step); from
        pinned memory, non_blocking, it does not (torch's caching host allocator keeps the buffer until the
        copy is done)."""
        n, b = self.real.shape[0], self.spec.batch_size
        draws = [torch.randint(n, (b,), generator=rng) for rng in self.members.data_rngs]
        idx = draws[0] if len(draws) == 1 else torch.cat(draws)  # a solo run's D step copies nothing more
        if self.device.type == "cuda":
            idx = idx.pin_memory().to(self.device, non_blocking=True)
        return to_unit_range(self.real[idx])

    def _due(self, step: int) -> bool:
        return step == self.spec.steps or any(step % every == 0 for every in self.periods)

    def _probe(self, step: int) -> None:
        for i in self._training():
            h = self.histories[i]
            h["sn_step"].append(step)
            h["sn"].append(spectral_norms(self.members.member(i)[1]))
            if self.monitors[i] is not None:
                self.monitors[i].spectral_norms(step, h["sn_layers"], h["sn"][-1])

    def _training(self) -> list[int]:
        return [i for i in range(self.k) if self.ended[i] is None]

    def _off_clock(self, step: int) -> None:
        """The periodic work that must not count as training time."""
        spec, last = self.spec, step == self.spec.steps
        if step % spec.track_sn_every == 0 or last:
            self._probe(step)
        every = spec.evaluation.history_every
        if self.evaluate is not None and every and (step % every == 0 or last):
            for i in self._training():
                g = self.members.member(i)[0]
                g.eval()
                self.histories[i]["eval_step"].append(step)
                self.histories[i]["eval"].append(self.evaluate[i](g))
                if self.monitors[i] is not None:
                    self.monitors[i].evaluation(step, self.histories[i]["eval"][-1], g)
                g.train()
        if self.ckpt.path is not None and spec.checkpoint_every and step % spec.checkpoint_every == 0 and not last:
            self._save(step)

    def _log(self, step: int, since: int, d_sum: torch.Tensor, g_sum: torch.Tensor) -> None:
        """The mean losses since the last log, per member; a member whose losses or weights are not finite
        ends here as diverged."""
        d_means, g_means = [x / since for x in d_sum.tolist()], [x / since for x in g_sum.tolist()]
        finite = self.members.member_finite()
        for i in self._training():
            h = self.histories[i]
            h["step"].append(step)
            h["d_loss"].append(d_means[i])
            h["g_loss"].append(g_means[i])
            if self.monitors[i] is not None:
                self.monitors[i].losses(step, d_means[i], g_means[i], 100.0 * self.train_seconds / step / self.k)
            losses_finite = math.isfinite(d_means[i]) and math.isfinite(g_means[i])
            if not (losses_finite and finite[i]):
                what = f"D {d_means[i]}, G {g_means[i]}" if finite[i] or not losses_finite else "its weights"
                self.ended[i] = ("diverged", f"non-finite loss by update {step} ({what})", step, self.train_seconds)

    def _stop(self, step: int, clock: float) -> None:
        """Ctrl-C, or a scheduler's notice, before update ``step``: save the state there and stop."""
        if self.ckpt.path is not None and step - 1 > self.start_step:
            self.train_seconds += time.perf_counter() - clock
            self._save(step - 1)
        raise Stopped(step - 1)

    def run(self) -> list[TrainOutcome]:
        self._resume()
        spec, steps = self.spec, self.steps
        for mon in self.monitors:
            if mon is not None:
                mon.begin(self.resumed_from)
        d_sum = torch.zeros(self.k, device=self.device)
        g_sum = torch.zeros(self.k, device=self.device)
        step, logged = self.start_step, self.start_step
        if self.start_step == 0:
            self._probe(0)
        bar = tqdm(total=spec.steps, initial=self.start_step, unit="upd", leave=False, disable=not self.progress,
                   desc=spec.label if self.k == 1 else f"{spec.label} x{self.k}")
        _sync(self.device)
        clock = time.perf_counter()
        try:
            for step in range(self.start_step + 1, spec.steps + 1):
                # stop at a step boundary, where the state can be saved exactly
                if self.should_stop is not None and self.should_stop():
                    self._stop(step, clock)
                steps.set_lr(step)
                for _ in range(spec.n_dis):
                    d_loss = steps.d_step(self._batch())
                g_loss = steps.g_step(spec.g_batch_size)
                d_sum += d_loss.detach()
                g_sum += g_loss.detach()
                if not self._due(step):
                    continue
                # the loop's only host syncs: to log, to catch NaN/inf, and to stop the clock for the periodic work
                _sync(self.device)
                self.train_seconds += time.perf_counter() - clock
                if step % spec.log_every == 0 or step == spec.steps:
                    self._log(step, step - logged, d_sum, g_sum)
                    bar.update(step - logged)
                    logged = step
                    d_sum.zero_(), g_sum.zero_()
                    if not self._training():
                        break
                self._off_clock(step)
                clock = time.perf_counter()
        finally:
            bar.close()
        return self._outcomes(step)

    def _outcomes(self, step: int) -> list[TrainOutcome]:
        out = []
        for i in range(self.k):
            status, error, done, seconds = self.ended[i] or ("ok", None, step, self.train_seconds)
            g, d = self.members.member(i)
            g.eval(), d.eval()
            per_100 = 100.0 * seconds / done if done else None
            out.append(TrainOutcome(
                generator=g, discriminator=d, status=status, steps_done=done,
                sec_per_100_updates=per_100 / self.k if per_100 is not None else None, history=self.histories[i],
                error=error, resumed_from=self.resumed_from,
                d_passes="joint" if self.steps.joint else "separate", regularizer=self.members.regs[i],
                group_size=self.k if self.fused else 1, group_sec_per_100_updates=per_100 if self.fused else None))
        return out


@torch.no_grad()
def generate(generator: nn.Module, n: int, *, z_dim: int, seed: int, latent: str = "normal",
             batch_size: int = 500) -> torch.Tensor:
    """n images from an eval-mode generator, float in [-1, 1], on the CPU."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    out = [generator(sample_latent(latent, min(batch_size, n - i), z_dim, device=device, generator=rng)).cpu()
           for i in range(0, n, batch_size)]
    return torch.cat(out)
