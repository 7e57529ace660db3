"""One GAN training run: n_dis discriminator steps per generator step, Adam.

It returns the trained generator and what happened; scoring and storage are
someone else's job. The trainer never names a regularizer: it calls the hooks
the run's regularizer overrides (see regularizers/base.py).
"""
from __future__ import annotations

import contextlib
import functools
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
            fake = self.g(self.z(b)).float()
        with self.autocast():
            if self.augment is not None:  # real and fake apart: an augmentation may draw per batch
                x, fake = self.augment(x), self.augment(fake)
            if self.joint:
                both = torch.cat([x, fake])
                if self.channels_last:
                    both = both.contiguous(memory_format=torch.channels_last)
                d_real, d_fake = self.discriminate(both).float().split(b)
            else:
                d_real, d_fake = self.discriminate(x).float(), self.discriminate(fake).float()
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
                g_loss = self.loss.g(self.discriminate(fake).float())
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


class Checkpoint:
    """A run's full training state, saved atomically every ``checkpoint_every`` updates."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None

    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def save(self, state: dict) -> None:
        atomic_torch_save(state, self.path)  # a kill mid-save leaves the previous checkpoint intact

    def load(self, config_hash: str) -> dict | None:
        """The saved state; None, with the file moved aside (``.damaged``) and a warning naming it, when it
        does not load (cut short, not a checkpoint) or belongs to another config: the run then starts afresh
        instead of failing the same way on every retry."""
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or not CHECKPOINT_KEYS <= set(state):
                raise ValueError("not a regbench checkpoint")
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


def train(spec: RunSpec, real: torch.Tensor, *, progress: bool = True,
          evaluate: Callable[[nn.Module], dict] | None = None, checkpoint: Path | None = None,
          should_stop: Callable[[], bool] | None = None, monitor=None) -> TrainOutcome:
    """Train on ``real`` (uint8, N x C x H x W) for ``spec.steps`` generator updates.

    ``evaluate(generator)`` is called every ``evaluation.history_every`` updates for the history; ``checkpoint`` is
    where the state is saved every ``spec.checkpoint_every`` updates and resumed from if it exists.
    ``should_stop()`` is asked before each update: True saves a checkpoint there and raises Stopped.
    ``monitor`` (a tensorboard.RunLog) sees the losses, spectral norms and evaluations as they are recorded.
    Evaluation, spectral-norm probes and checkpoints are kept off the clock.
    """
    device = resolve_device(spec.device)
    torch.manual_seed(spec.seed)
    data_rng = torch.Generator().manual_seed(spec.seed)
    g, d, reg = build(spec, channels=real.shape[1], device=device)
    if device.type == "cuda":  # fixed shapes: let cuDNN time its algorithms once and keep the fastest
        torch.backends.cudnn.benchmark = True
    if spec.channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    steps = Steps(spec, g, d, reg, device)
    opt_d, opt_g = steps.opt_d, steps.opt_g
    real = real.to(device)
    n, b = real.shape[0], spec.batch_size
    # Batch indices come from a CPU generator, so a run draws the same batches on any device. A plain
    # .to("cuda") of a CPU tensor waits for the GPU to drain (a host sync per D step); from pinned memory,
    # non_blocking, it does not (torch's caching host allocator keeps the buffer until the copy is done).
    sample = ((lambda idx: idx.pin_memory().to(device, non_blocking=True)) if device.type == "cuda"
              else (lambda idx: idx))

    history = {"step": [], "d_loss": [], "g_loss": [],
               "sn_layers": [name for name, _ in named_weight_layers(d)], "sn_step": [], "sn": [],
               "eval_step": [], "eval": []}
    ckpt, start_step, train_seconds, resumed_from = Checkpoint(checkpoint), 0, 0.0, None
    state = ckpt.load(spec.config_hash) if ckpt.exists() else None
    if state is not None:
        g.load_state_dict(state["g"]), d.load_state_dict(state["d"])
        reg.load_state_dict(state.get("regularizer", {}))  # checkpoints before regularizer state hold none
        opt_g.load_state_dict(state["opt_g"]), opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"]), data_rng.set_state(state["data_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history, start_step, train_seconds = state["history"], state["step"], state["train_seconds"]
        resumed_from = start_step

    if monitor is not None:
        monitor.begin(resumed_from)

    # the periods of the off-clock work, read from the spec once rather than every update
    periods = [every for every in (spec.log_every, spec.track_sn_every, spec.evaluation.history_every if evaluate
                                   else 0, spec.checkpoint_every if ckpt.path else 0) if every]

    def due(step: int) -> bool:
        return step == spec.steps or any(step % every == 0 for every in periods)

    def save_checkpoint(step: int) -> None:
        ckpt.save({"g": g.state_dict(), "d": d.state_dict(), "opt_g": opt_g.state_dict(),
                   "opt_d": opt_d.state_dict(), "rng": torch.get_rng_state(), "data_rng": data_rng.get_state(),
                   "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                   "regularizer": reg.state_dict(), "history": history, "step": step, "train_seconds": train_seconds,
                   "config_hash": spec.config_hash})

    def off_clock(step: int) -> None:
        """The periodic work that must not count as training time."""
        last = step == spec.steps
        if step % spec.track_sn_every == 0 or last:
            history["sn_step"].append(step)
            history["sn"].append(spectral_norms(d))
            if monitor is not None:
                monitor.spectral_norms(step, history["sn_layers"], history["sn"][-1])
        every = spec.evaluation.history_every
        if evaluate is not None and every and (step % every == 0 or last):
            g.eval()
            history["eval_step"].append(step)
            history["eval"].append(evaluate(g))
            if monitor is not None:
                monitor.evaluation(step, history["eval"][-1], g)
            g.train()
        if ckpt.path is not None and spec.checkpoint_every and step % spec.checkpoint_every == 0 and not last:
            save_checkpoint(step)

    d_sum = torch.zeros((), device=device)
    g_sum = torch.zeros((), device=device)
    status, error, step, logged = "ok", None, start_step, start_step
    g.train(), d.train()
    if start_step == 0:
        history["sn_step"].append(0)
        history["sn"].append(spectral_norms(d))
        if monitor is not None:
            monitor.spectral_norms(0, history["sn_layers"], history["sn"][-1])
    bar = tqdm(total=spec.steps, initial=start_step, desc=spec.label, unit="upd", leave=False,
               disable=not progress)
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
                d_loss = steps.d_step(to_unit_range(real[sample(torch.randint(n, (b,), generator=data_rng))]))
            g_loss = steps.g_step(spec.g_batch_size)
            d_sum += d_loss.detach()
            g_sum += g_loss.detach()
            if not due(step):
                continue
            # the loop's only host syncs: to log, to catch NaN/inf, and to stop the clock for the periodic work
            _sync(device)
            train_seconds += time.perf_counter() - clock
            if step % spec.log_every == 0 or step == spec.steps:
                k, logged = step - logged, step
                d_mean, g_mean = d_sum.item() / k, g_sum.item() / k
                d_sum.zero_(), g_sum.zero_()
                history["step"].append(step)
                history["d_loss"].append(d_mean)
                history["g_loss"].append(g_mean)
                if monitor is not None:
                    monitor.losses(step, d_mean, g_mean, 100.0 * train_seconds / step)
                bar.update(k)
                if not (math.isfinite(d_mean) and math.isfinite(g_mean)):
                    status = "diverged"
                    error = f"non-finite loss by update {step} (D {d_mean}, G {g_mean})"
                    break
            off_clock(step)
            clock = time.perf_counter()
    finally:  # whatever ends the loop, Ctrl-C goes back to its previous handler
        interrupt.restore()
    bar.close()
    g.eval(), d.eval()
    return TrainOutcome(generator=g, discriminator=d, status=status, steps_done=step,
                        sec_per_100_updates=100.0 * train_seconds / step if step else None,
                        history=history, error=error, resumed_from=resumed_from,
                        d_passes="joint" if steps.joint else "separate", regularizer=reg)


@torch.no_grad()
def generate(generator: nn.Module, n: int, *, z_dim: int, seed: int, latent: str = "normal",
             batch_size: int = 500) -> torch.Tensor:
    """n images from an eval-mode generator, float in [-1, 1], on the CPU."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    out = [generator(sample_latent(latent, min(batch_size, n - i), z_dim, device=device, generator=rng)).cpu()
           for i in range(0, n, batch_size)]
    return torch.cat(out)
