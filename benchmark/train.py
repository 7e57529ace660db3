"""One GAN training run: n_dis discriminator steps per generator step, Adam.

It returns the trained generator and what happened; scoring and storage are
someone else's job. The trainer never names a regularizer: it calls the hooks
the run's regularizer overrides (see regularizers/base.py).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
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

from .data import to_unit_range
from .latent import sample_latent
from .losses import create_loss
from .models import create_models
from .probes import named_weight_layers, spectral_norms
from .store import atomic_torch_save, move_aside, warn
from .regularizers import Regularizer, create_regularizer
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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def returned(value) -> str:
    """What a hook gave back, as its error message says it: None, a tensor's shape, or a type."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


class HookError(TypeError):
    """A regularizer hook returned what the harness cannot use; the message names the hook and what it gave."""


def _checked_layer_hooks(reg: Regularizer):
    """wrap_layer and normalization as the models call them, each result checked where it is made: a hook
    that returns None fails with its own name, not later as "'NoneType' object is not callable"."""
    def wrap_layer(layer):
        out = reg.wrap_layer(layer)
        if not isinstance(out, nn.Module):
            raise HookError(f"{reg.name}.wrap_layer({type(layer).__name__}) returned {returned(out)}; it must "
                            "return an nn.Module (the layer itself, or the layer wrapped)")
        return out

    def normalization(num_features):
        out = reg.normalization(num_features)
        if out is not None and not isinstance(out, nn.Module):
            raise HookError(f"{reg.name}.normalization({num_features}) returned {returned(out)}; it must return "
                            "an nn.Module or None")
        return out

    return wrap_layer, normalization


def build(spec: RunSpec, *, channels: int, device: torch.device) -> tuple[nn.Module, nn.Module, Regularizer]:
    reg = create_regularizer(spec.regularizer, **dict(spec.params))
    wrap_layer, normalization = _checked_layer_hooks(reg)
    g, d = create_models(spec.architecture, size=spec.image_size, channels=channels, width=spec.width,
                         z_dim=spec.z_dim, wrap_layer=wrap_layer, normalization=normalization,
                         init=spec.init)
    reg.initialize(d)
    return g.to(device), d.to(device), reg


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # kernels run async: the clock must wait for them


class Steps:
    """One D update and one G update, as every run (and `regbench check-plugin`) makes them; everything
    that does not change from step to step (which hooks the regularizer has, the loss) is decided here once."""

    def __init__(self, spec: RunSpec, g: nn.Module, d: nn.Module, reg: Regularizer, device: torch.device):
        self.d, self.z_dim, self.device = d, spec.z_dim, device
        self.latent = spec.latent
        # the forwards of the step; hooks and state_dicts see the modules themselves
        self.g = torch.compile(g) if spec.compile else g
        self.d_forward = torch.compile(d) if spec.compile else d
        self.autocast = (functools.partial(torch.autocast, device.type, dtype=torch.bfloat16) if spec.bf16
                         else contextlib.nullcontext)
        self.channels_last = spec.channels_last
        # bf16 autocast's outputs back to float32 for the loss; otherwise as they are (a float64 test run stays so)
        self.out = (lambda t: t.float()) if spec.bf16 else (lambda t: t)
        self.loss = create_loss(spec.loss)
        # fused Adam: one kernel for all parameters instead of a Python loop over them
        self.opt_d = torch.optim.Adam(d.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
        self.opt_g = torch.optim.Adam(g.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
        self.penalty = reg.penalty if reg.uses("penalty") else None
        self.reg_name = reg.name
        self.extras = reg.penalty_extras() if self.penalty is not None else ()
        self.augment = reg.augment if reg.uses("augment") else None
        # D's forward as both steps run it: the compiled module itself unless the regularizer wraps it
        self.discriminate = (functools.partial(reg.discriminate, self.d_forward) if reg.uses("discriminate")
                             else self.d_forward)
        self.after_d_step = reg.after_d_step if reg.uses("after_d_step") else None
        # separate: D runs on the real batch, then on the fake one, as the authors' updater (two power iterations
        # per D update under spectral norm). joint: one forward of both (half the kernel launches, one power
        # iteration), unless D has batch statistics, which must see real and fake apart.
        self.joint = spec.d_passes == "joint" and not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                                          for m in d.modules())
        self.d_params = [p for p in d.parameters() if p.requires_grad]
        self.lr, self.steps, self.lr_decay = spec.lr, spec.steps, spec.lr_decay

    def z(self, n: int) -> torch.Tensor:
        return sample_latent(self.latent, n, self.z_dim, device=self.device)

    def set_lr(self, step: int) -> None:
        """The learning rate of generator update ``step`` (1-based) and of the D updates before it. linear:
        lr * (1 - (step - 1) / steps), as chainer's LinearShift in the authors' ResNet runs. Set from the step
        each time, so a resumed run needs no scheduler state."""
        if self.lr_decay == "none":
            return
        lr = self.lr * (1.0 - (step - 1) / self.steps)
        for opt in (self.opt_d, self.opt_g):
            for group in opt.param_groups:
                group["lr"] = lr

    def d_step(self, x: torch.Tensor) -> torch.Tensor:
        """One D update on real images ``x`` (in [-1, 1]) and as many fakes; returns D's loss."""
        b = x.shape[0]
        with torch.no_grad(), self.autocast():
            fake = self.out(self.g(self.z(b)))
        with self.autocast():
            if self.augment is not None:  # real and fake apart: an augmentation may draw per batch
                x, fake = self.augment(x), self.augment(fake)
            if self.joint:
                both = torch.cat([x, fake])
                if self.channels_last:
                    both = both.contiguous(memory_format=torch.channels_last)
                d_real, d_fake = self.out(self.discriminate(both)).split(b)
            else:
                d_real, d_fake = self.out(self.discriminate(x)), self.out(self.discriminate(fake))
            d_loss = self.loss.d(d_real, d_fake)
            if self.penalty is not None:
                outputs = {"d_real": d_real, "d_fake": d_fake}
                extra = self.penalty(discriminator=self.d, real=x, fake=fake, **{k: outputs[k] for k in self.extras})
                if extra is not None:  # a penalty hook may decline, as the base class's does
                    if not isinstance(extra, torch.Tensor) or extra.dim() != 0:
                        raise HookError(f"{self.reg_name}.penalty returned {returned(extra)}; it must return a "
                                        "scalar tensor (shape []), e.g. its per-sample terms' .mean(), or None")
                    d_loss = d_loss + extra
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        if self.after_d_step is not None:
            self.after_d_step(self.d)
        return d_loss

    def g_step(self, b: int) -> torch.Tensor:
        # G's loss needs gradients through D, not for D's weights: the next D step would zero them unread.
        # At the default suite's size a weight gradient is most of a convolution's backward, so freezing D
        # here saves ~9% of a run at n_dis 1 and ~3% at n_dis 5, with bit-identical results.
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            with self.autocast():
                fake = self.g(self.z(b))
                if self.augment is not None:
                    fake = self.augment(fake)
                g_loss = self.loss.g(self.out(self.discriminate(fake)))
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        self.opt_g.step()
        return g_loss


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


CHECKPOINT_KEYS = {"g", "d", "opt_g", "opt_d", "rng", "data_rng", "history", "step", "train_seconds", "config_hash"}
GROUP_CHECKPOINT_KEYS = {"fused", "data_rng", "history", "members", "step", "train_seconds", "config_hash"}


class Checkpoint:
    """A run's (or a fused group's) full training state, saved atomically every ``checkpoint_every`` updates."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None

    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def save(self, state: dict) -> None:
        atomic_torch_save(state, self.path)  # a kill mid-save leaves the previous checkpoint intact

    def load(self, config_hash: str, keys: set = CHECKPOINT_KEYS) -> dict | None:
        """The saved state; None, with the file moved aside (``.damaged``) and a warning naming it, when it
        does not load (cut short, not a checkpoint) or belongs to another config: the run then starts afresh
        instead of failing the same way on every retry."""
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or not keys <= set(state):
                raise ValueError("not a regbench checkpoint" + (" of a fused group" if keys is GROUP_CHECKPOINT_KEYS
                                                                else ""))
            if state["config_hash"] != config_hash:  # run ids include the hash: only a misplaced file gets here
                raise ValueError(f"it belongs to another config ({state['config_hash']}, this run is {config_hash})")
        except Exception as exc:  # a cut zip or pickle: RuntimeError, EOFError, UnpicklingError, ...
            moved = move_aside(self.path)
            warn(f"checkpoint {self.path} does not load ({type(exc).__name__}: {exc}); moved aside to "
                 f"{moved.name}, the run starts afresh")
            return None
        return state

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def group_hash(specs: list[RunSpec]) -> str:
    """What identifies a fused group: its members' configs, in order."""
    return hashlib.sha256(" ".join(s.config_hash for s in specs).encode()).hexdigest()[:10]


class _Solo:
    """A group of one: train.Steps on plain modules, the path (and checkpoint format) of every solo run."""

    k = 1

    def __init__(self, spec: RunSpec, channels: int, device: torch.device):
        torch.manual_seed(spec.seed)
        self.data_rng = torch.Generator().manual_seed(spec.seed)
        g, d, reg = build(spec, channels=channels, device=device)
        if spec.channels_last:
            g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        self.g, self.d, self.reg = g, d, reg
        self.steps = Steps(spec, g, d, reg, device)
        self.joint, self.device = self.steps.joint, device
        self.set_lr = self.steps.set_lr

    def indices(self, n: int, b: int) -> torch.Tensor:
        return torch.randint(n, (b,), generator=self.data_rng)

    def d_step(self, x):
        return self.steps.d_step(x).reshape(1)

    def g_step(self, b):
        return self.steps.g_step(b).reshape(1)

    def member(self, i):
        return self.g, self.d

    def regularizer(self, i):
        return self.reg

    def member_finite(self):
        return [True]  # a solo run's loss says it all

    def state(self) -> dict:
        device = self.device
        return {"g": self.g.state_dict(), "d": self.d.state_dict(), "opt_g": self.steps.opt_g.state_dict(),
                "opt_d": self.steps.opt_d.state_dict(), "rng": torch.get_rng_state(),
                "data_rng": self.data_rng.get_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "regularizer": self.reg.state_dict()}

    def load(self, state: dict) -> None:
        self.g.load_state_dict(state["g"]), self.d.load_state_dict(state["d"])
        self.reg.load_state_dict(state.get("regularizer", {}))  # checkpoints before regularizer state hold none
        self.steps.opt_g.load_state_dict(state["opt_g"]), self.steps.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"]), self.data_rng.set_state(state["data_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)


class _Fused:
    """A fused group of k members (fused_steps.FusedSteps), each built as its solo run is built."""

    def __init__(self, specs: list[RunSpec], channels: int, device: torch.device):
        from .fused_steps import FusedSteps

        members, cpu_states = [], []
        for spec in specs:  # member s draws its init from seed s exactly as its solo run does
            torch.manual_seed(spec.seed)
            members.append(build(spec, channels=channels, device=device))
            cpu_states.append(torch.get_rng_state())
        self.k = len(specs)
        self.data_rngs = [torch.Generator().manual_seed(s.seed) for s in specs]
        self.steps = FusedSteps(specs, members, cpu_states, device)
        self.joint = self.steps.joint
        self.set_lr, self.d_step, self.g_step = self.steps.set_lr, self.steps.d_step, self.steps.g_step
        self.member, self.member_finite = self.steps.member, self.steps.member_finite

    def indices(self, n: int, b: int) -> torch.Tensor:
        return torch.cat([torch.randint(n, (b,), generator=rng) for rng in self.data_rngs])

    def regularizer(self, i):
        return self.steps.regs[i]

    def state(self) -> dict:
        return {"fused": self.steps.state(), "data_rng": [r.get_state() for r in self.data_rngs]}

    def load(self, state: dict) -> None:
        self.steps.load(state["fused"])
        for r, s in zip(self.data_rngs, state["data_rng"]):
            r.set_state(s)


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
    (train.Steps on plain modules); a larger one is fused (fused_steps.FusedSteps), unless ``fused`` is False.
    The members must differ only in suite.MEMBER_FIELDS (suite.groups makes such groups).
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
    trainee = _Fused(specs, real.shape[1], device) if fused else _Solo(spec, real.shape[1], device)
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
    config_hash = spec.config_hash if not fused else group_hash(specs)
    keys = GROUP_CHECKPOINT_KEYS if fused else CHECKPOINT_KEYS
    state = ckpt.load(config_hash, keys) if ckpt.exists() else None
    if state is not None:
        trainee.load(state)
        start_step, train_seconds, resumed_from = state["step"], state["train_seconds"], state["step"]
        histories = state["history"] if fused else [state["history"]]
        ended = [tuple(m) if m else None for m in state["members"]] if fused else [None]

    for mon in monitors:
        if mon is not None:
            mon.begin(resumed_from)

    # the periods of the off-clock work, read from the spec once rather than every update
    periods = [every for every in (spec.log_every, spec.track_sn_every, spec.evaluation.history_every if evaluate
                                   else 0, spec.checkpoint_every if ckpt.path else 0) if every]

    def due(step: int) -> bool:
        return step == spec.steps or any(step % every == 0 for every in periods)

    def save_checkpoint(step: int) -> None:
        common = {"step": step, "train_seconds": train_seconds, "config_hash": config_hash}
        if fused:
            ckpt.save({**trainee.state(), "history": histories, "members": ended, **common})
        else:
            ckpt.save({**trainee.state(), "history": histories[0], **common})

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
            trainee.set_lr(step)
            for _ in range(spec.n_dis):
                d_loss = trainee.d_step(to_unit_range(real[sample(trainee.indices(n, b))]))
            g_loss = trainee.g_step(spec.g_batch_size)
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
            resumed_from=resumed_from, d_passes="joint" if trainee.joint else "separate",
            regularizer=trainee.regularizer(i), group_size=k if fused else 1,
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
