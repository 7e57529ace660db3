"""One GAN training run: n_dis discriminator steps per generator step, Adam.

It returns the trained generator and what happened; scoring and storage are
someone else's job. The trainer never names a regularizer: it calls the hooks
the run's regularizer overrides (see regularizers/base.py).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from .data import to_unit_range
from .losses import create_loss
from .models import create_models
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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build(spec: RunSpec, *, channels: int, device: torch.device) -> tuple[nn.Module, nn.Module, Regularizer]:
    reg = create_regularizer(spec.regularizer, **dict(spec.params))
    g, d = create_models(spec.architecture, size=spec.image_size, channels=channels, width=spec.width,
                         z_dim=spec.z_dim, wrap_layer=reg.wrap_layer, normalization=reg.normalization)
    reg.initialize(d)
    return g.to(device), d.to(device), reg


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # kernels run async: the clock must wait for them


def train(spec: RunSpec, real: torch.Tensor, *, progress: bool = True) -> TrainOutcome:
    """Train on ``real`` (uint8, N x C x H x W) for ``spec.steps`` generator updates."""
    device = resolve_device(spec.device)
    torch.manual_seed(spec.seed)
    data_rng = torch.Generator().manual_seed(spec.seed)
    g, d, reg = build(spec, channels=real.shape[1], device=device)
    loss = create_loss(spec.loss)
    # fused Adam: one kernel for all parameters instead of a Python loop over them
    opt_d = torch.optim.Adam(d.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
    opt_g = torch.optim.Adam(g.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
    real = real.to(device)
    n, b = real.shape[0], spec.batch_size
    # hoisted out of the loop: which hooks this regularizer has
    penalty = reg.penalty if reg.uses("penalty") else None
    after_d_step = reg.after_d_step if reg.uses("after_d_step") else None
    # Real and fake go through D as one batch (one forward: half the kernel launches, one power
    # iteration per D update) unless D has batch statistics, which must see them apart.
    joint = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())

    history = {"step": [], "d_loss": [], "g_loss": []}
    d_sum = torch.zeros((), device=device)
    g_sum = torch.zeros((), device=device)
    status, error, step = "ok", None, 0
    g.train(), d.train()
    bar = tqdm(total=spec.steps, desc=spec.label, unit="upd", leave=False, disable=not progress)
    _sync(device)
    start = time.perf_counter()
    for step in range(1, spec.steps + 1):
        for _ in range(spec.n_dis):
            x = to_unit_range(real[torch.randint(n, (b,), generator=data_rng).to(device)])
            with torch.no_grad():
                fake = g(torch.randn(b, spec.z_dim, device=device))
            if joint:
                d_real, d_fake = d(torch.cat([x, fake])).split(b)
            else:
                d_real, d_fake = d(x), d(fake)
            d_loss = loss.d(d_real, d_fake)
            if penalty is not None:
                d_loss = d_loss + penalty(discriminator=d, real=x, fake=fake)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            if after_d_step is not None:
                after_d_step(d)
        g_loss = loss.g(d(g(torch.randn(b, spec.z_dim, device=device))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d_sum += d_loss.detach()
        g_sum += g_loss.detach()
        if step % spec.log_every == 0 or step == spec.steps:
            # the one host sync of the loop: every log_every updates, to log and to catch NaN/inf
            k = step - (history["step"][-1] if history["step"] else 0)
            d_mean, g_mean = d_sum.item() / k, g_sum.item() / k
            d_sum.zero_(), g_sum.zero_()
            history["step"].append(step)
            history["d_loss"].append(d_mean)
            history["g_loss"].append(g_mean)
            bar.update(k)
            if not (math.isfinite(d_mean) and math.isfinite(g_mean)):
                status = "diverged"
                error = f"non-finite loss by update {step} (D {d_mean}, G {g_mean})"
                break
    _sync(device)
    elapsed = time.perf_counter() - start
    bar.close()
    g.eval(), d.eval()
    return TrainOutcome(generator=g, discriminator=d, status=status, steps_done=step,
                        sec_per_100_updates=100.0 * elapsed / step if step else None,
                        history=history, error=error)


@torch.no_grad()
def generate(generator: nn.Module, n: int, *, z_dim: int, seed: int, batch_size: int = 500) -> torch.Tensor:
    """n images from an eval-mode generator, float in [-1, 1], on the CPU."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    out = [generator(torch.randn(min(batch_size, n - i), z_dim, device=device, generator=rng)).cpu()
           for i in range(0, n, batch_size)]
    return torch.cat(out)
