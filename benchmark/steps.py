"""D's update and G's update, written once for every group: a solo run is a group of one.

The members come from backends.py (Plain: one run's modules; Fused: k runs stacked). Everything here is per
member a vector of k: the losses, the penalties. Everything that does not change from step to step (which
hooks the regularizer has, the loss, the D passes) is decided once, in the constructor.
"""
from __future__ import annotations

import contextlib
import functools

import torch

from .backends import Plain, backend_for
from .schema import RunSpec


class Steps:
    def __init__(self, spec: RunSpec, members):
        self.members, self.k = members, members.k
        reg = members.regs[0]
        uses = reg.uses
        # speed switches: a fused group never has them (suite.solo_reason), so they are a group of one's
        self.autocast = (functools.partial(torch.autocast, members.device.type, dtype=torch.bfloat16) if spec.bf16
                         else contextlib.nullcontext)
        # bf16 autocast's outputs back to float32 for the loss; otherwise as they are (a float64 test run stays so)
        self.out = (lambda t: t.float()) if spec.bf16 else (lambda t: t)
        self.channels_last = spec.channels_last
        self.augment = members.augment if uses("augment") else None
        self.discriminate = members.discriminate if uses("discriminate") else members.d
        self.penalty = uses("penalty")
        self.extras = reg.penalty_extras() if self.penalty else ()
        self.after_d_step = members.after_d_step if uses("after_d_step") else None
        # separate: D runs on the real batch, then on the fake one, as the authors' updater (two power iterations
        # per D update under spectral norm). joint: one forward of both (half the kernel launches, one power
        # iteration), unless D has batch statistics, which must see real and fake apart.
        self.joint = spec.d_passes == "joint" and not members.batch_statistics
        self.lr_decay, self.steps = spec.lr_decay, spec.steps

    def set_lr(self, step: int) -> None:
        """The learning rate of generator update ``step`` (1-based) and of the D updates before it. linear:
        lr * (1 - (step - 1) / steps), as chainer's LinearShift in the authors' ResNet runs. Set from the step
        each time, so a resumed run needs no scheduler state."""
        if self.lr_decay != "none":
            self.members.scale_lr(1.0 - (step - 1) / self.steps)

    def _both(self, x: torch.Tensor, fake: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """D's outputs on real and fake in one forward: each member's real and fake as one block of 2B."""
        k = self.k
        shape = x.shape[1:]
        both = torch.stack([x.reshape(k, b, *shape), fake.reshape(k, b, *shape)], 1).reshape(2 * k * b, *shape)
        if self.channels_last:
            both = both.contiguous(memory_format=torch.channels_last)
        out = self.out(self.discriminate(both)).view(k, 2, b)
        return out[:, 0].reshape(-1), out[:, 1].reshape(-1)

    def d_step(self, x: torch.Tensor) -> torch.Tensor:
        """One D update of every member on its block of ``x`` (k x B real images in [-1, 1]) and as many
        fakes; returns the k members' D losses (penalties included)."""
        m, b = self.members, x.shape[0] // self.k
        with torch.no_grad(), self.autocast():
            fake = self.out(m.g(m.z(b)))
        with self.autocast():
            if self.augment is not None:  # real and fake apart: an augmentation may draw per batch
                x, fake = self.augment(x, fake)
            if self.joint:
                d_real, d_fake = self._both(x, fake, b)
            else:
                d_real, d_fake = self.out(self.discriminate(x)), self.out(self.discriminate(fake))
            losses = m.loss_d(d_real, d_fake)
            total = losses.sum()
            if self.penalty:
                pens = m.penalties(x, fake, d_real, d_fake, self.extras)
                if pens is not None:  # a penalty hook may decline, as the base class's does
                    total = total + pens[0]
                    losses = losses.detach() + pens[1]
        m.opt_d.zero_grad(set_to_none=True)
        total.backward()
        m.opt_d.step()
        if self.after_d_step is not None:
            self.after_d_step()
        return losses

    def g_step(self, b: int) -> torch.Tensor:
        """One G update of every member on ``b`` fakes each; returns the k members' G losses."""
        m = self.members
        # G's loss needs gradients through D, not for D's weights: the next D step would zero them unread.
        # At the default suite's size a weight gradient is most of a convolution's backward, so freezing D
        # here saves ~9% of a run at n_dis 1 and ~3% at n_dis 5, with bit-identical results.
        for p in m.d_params:
            p.requires_grad_(False)
        try:
            with self.autocast():
                fake = m.g(m.z(b))
                if self.augment is not None:
                    (fake,) = self.augment(fake)
                losses = m.loss_g(self.out(self.discriminate(fake)))
            m.opt_g.zero_grad(set_to_none=True)
            losses.sum().backward()
        finally:
            for p in m.d_params:
                p.requires_grad_(True)
        m.opt_g.step()
        return losses


def solo_steps(spec: RunSpec, g, d, reg, device: torch.device) -> Steps:
    """The steps of one run on modules the caller built (check-plugin and tests watch them)."""
    return Steps(spec, Plain(spec, g, d, reg, device))


def group_steps(specs: list[RunSpec], channels: int, device: torch.device, *, fused: bool | None = None) -> Steps:
    """The steps of a group, its members built from their seeds (backends.backend_for)."""
    return Steps(specs[0], backend_for(specs, channels, device, fused=fused))
