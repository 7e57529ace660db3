"""A fused group's D and G updates: train.Steps for k members at once, as one batched model.

Members are independent experiments. Each is built from its own seed exactly as its solo run (its weights,
its regularizer instance, its random streams), then the k models are stacked (stacked.Stacked) and trained
with one forward and backward for all. Losses are per-member means, summed over members, so each member's
gradient is its own; the optimizer (member_adam.MemberAdam) keeps each member's lr and betas. Hooks follow
the contract in regularizers/base.py: per member (on views of its weights, with its stream as the global
one) unless the regularizer lists them in ``batched``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import vmap

from .latent import sample_latent
from .losses import create_loss
from .member_adam import MemberAdam
from .member_rng import MemberStreams
from .stacked import Stacked
from .suite import RunSpec

class FusedSteps:
    def __init__(self, specs: list[RunSpec], members: list[tuple[nn.Module, nn.Module, object]],
                 cpu_states: list[torch.Tensor], device: torch.device):
        from .train import HookError, returned  # the messages solo runs give

        self._hook_error, self._returned = HookError, returned
        spec = specs[0]
        self.k, self.device, self.z_dim, self.latent = len(specs), device, spec.z_dim, spec.latent
        self.gs, self.ds = [m[0] for m in members], [m[1] for m in members]
        self.regs = [m[2] for m in members]
        reg = self.regs[0]
        self.g, self.d = Stacked(self.gs).to(device), Stacked(self.ds).to(device)
        self.streams = MemberStreams(cpu_states, [s.seed for s in specs], device)
        self.loss = create_loss(spec.loss)
        self.loss_d, self.loss_g = vmap(self.loss.d), vmap(self.loss.g)  # (k, B) -> k per-member means
        hp = {"lr": [s.lr for s in specs], "beta1": [s.beta1 for s in specs], "beta2": [s.beta2 for s in specs]}
        self.opt_d = MemberAdam(self.d.parameters(), **hp)
        self.opt_g = MemberAdam(self.g.parameters(), **hp)
        self.reg_name = reg.name
        used = lambda hook: reg.uses(hook)
        self.batched = {h for h in reg.batched if used(h)}
        self.augment = used("augment")
        self.discriminates = used("discriminate")
        self.penalty = used("penalty")
        self.extras = reg.penalty_extras() if self.penalty else ()
        self.after = used("after_d_step")
        self.joint = spec.d_passes == "joint" and not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                                          for m in self.ds[0].modules())
        self.d_params = [p for p in self.d.parameters() if p.requires_grad]
        self.steps, self.lr_decay = spec.steps, spec.lr_decay

    # -- randomness and hooks, member by member or batched ------------------------------------------------
    def z(self, n: int) -> torch.Tensor:
        return torch.cat([sample_latent(self.latent, n, self.z_dim, device=self.device,
                                        generator=self.streams.gen(i, self.device)) for i in range(self.k)])

    def _blocks(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return x.chunk(self.k)

    def _augment(self, *batches: torch.Tensor) -> list[torch.Tensor]:
        """Each batch augmented, member by member in the solo run's order (its real, then its fake)."""
        if "augment" in self.batched:
            with self.streams.split_draws("augment"):
                return [self.regs[0].augment(b) for b in batches]
        out = [[] for _ in batches]
        for i, blocks in enumerate(zip(*(self._blocks(b) for b in batches))):
            with self.streams.as_global(i):
                for j, block in enumerate(blocks):
                    out[j].append(self.regs[i].augment(block))
        return [torch.cat(o) for o in out]

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        if not self.discriminates:
            return self.d(images)
        if "discriminate" in self.batched:
            with self.streams.split_draws("discriminate"):
                return self.regs[0].discriminate(self.d, images)
        outs = []
        for i, block in enumerate(self._blocks(images)):
            with self.streams.as_global(i):
                outs.append(self.d.call_member(i, lambda m: self.regs[i].discriminate(m, block)))
        return torch.cat(outs)

    def _check_penalty(self, extra):
        if extra is not None and (not isinstance(extra, torch.Tensor) or extra.dim() != 0):
            raise self._hook_error(f"{self.reg_name}.penalty returned {self._returned(extra)}; it must return a "
                                   "scalar tensor (shape []), e.g. its per-sample terms' .mean(), or None")
        return extra

    def _penalties(self, real, fake, d_real, d_fake) -> torch.Tensor | None:
        """(the sum of the members' penalties, each member's penalty for its logged loss), or None. A batched penalty is the mean over the group's samples of
        per-sample terms, so k times it is the sum of the members' own means; each member is charged it."""
        outputs = {"d_real": d_real, "d_fake": d_fake}
        if "penalty" in self.batched:
            with self.streams.split_draws("penalty"):
                extra = self._check_penalty(self.regs[0].penalty(
                    discriminator=self.d, real=real, fake=fake, **{k: outputs[k] for k in self.extras}))
            if extra is None:
                return None
            # the members' losses are summed for the backward: k x the mean is the sum of their penalties.
            # The logged loss of each member is charged the group's mean; a non-finite one is some member's
            # own trouble (its weights say whose after the step, member_finite), not logged on all of them
            return extra * self.k, torch.where(extra.detach().isfinite(), extra.detach(), 0.0).expand(self.k)
        pens = []
        blocks = [self._blocks(t) for t in (real, fake, d_real, d_fake)]
        for i in range(self.k):
            r, f, dr, df = (b[i] for b in blocks)
            mine = {"d_real": dr, "d_fake": df}
            with self.streams.as_global(i):
                extra = self._check_penalty(self.d.call_member(i, lambda m: self.regs[i].penalty(
                    discriminator=m, real=r, fake=f, **{k: mine[k] for k in self.extras})))
            pens.append(extra if extra is not None else torch.zeros((), device=self.device))
        pens = torch.stack(pens)
        return pens.sum(), pens.detach()

    def _after_d_step(self) -> None:
        if "after_d_step" in self.batched:
            self.regs[0].after_d_step(self.d)
            return
        for i in range(self.k):
            with self.streams.as_global(i):
                self.d.call_member(i, self.regs[i].after_d_step, grad=False)

    # -- the updates -------------------------------------------------------------------------------------
    def set_lr(self, step: int) -> None:
        if self.lr_decay == "none":
            return
        factor = 1.0 - (step - 1) / self.steps
        self.opt_d.scale_lr(factor), self.opt_g.scale_lr(factor)

    def d_step(self, x: torch.Tensor) -> torch.Tensor:
        """One D update of every member on its block of ``x`` (k x B real images in [-1, 1]); returns the
        k members' D losses."""
        b = x.shape[0] // self.k
        with torch.no_grad():
            fake = self.g(self.z(b))
        if self.augment:
            x, fake = self._augment(x, fake)
        if self.joint:  # each member's real and fake as one block of 2B
            both = torch.stack([x.view(self.k, b, *x.shape[1:]), fake.view(self.k, b, *x.shape[1:])], 1)
            out = self.discriminate(both.reshape(2 * x.shape[0], *x.shape[1:])).view(self.k, 2, b)
            d_real, d_fake = out[:, 0].reshape(-1), out[:, 1].reshape(-1)
        else:
            d_real, d_fake = self.discriminate(x), self.discriminate(fake)
        losses = self.loss_d(d_real.view(self.k, b), d_fake.view(self.k, b))
        total = losses.sum()
        if self.penalty:
            pens = self._penalties(x, fake, d_real, d_fake)
            if pens is not None:
                total = total + pens[0]
                losses = losses.detach() + pens[1]
        self.opt_d.zero_grad()
        total.backward()
        self.opt_d.step()
        if self.after:
            self._after_d_step()
        return losses

    def g_step(self, b: int) -> torch.Tensor:
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            fake = self.g(self.z(b))
            if self.augment:
                (fake,) = self._augment(fake)
            losses = self.loss_g(self.discriminate(fake).view(self.k, b))
            self.opt_g.zero_grad()
            losses.sum().backward()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        self.opt_g.step()
        return losses

    @torch.no_grad()
    def member_finite(self) -> list[bool]:
        """Whether each member's weights and buffers (G's and D's) are all finite."""
        ok = torch.ones(self.k, dtype=torch.bool, device=self.device)
        for module in (self.g, self.d):
            for t in module.tensors().values():
                if t.is_floating_point():
                    ok &= t.reshape(self.k, -1).isfinite().all(1)
        return ok.tolist()

    # -- members as modules, and the group's state -------------------------------------------------------
    def member(self, i: int) -> tuple[nn.Module, nn.Module]:
        """Member i's G and D as plain modules holding its current weights (for probes, scoring, saving)."""
        return self.g.copy_member_into(i, self.gs[i]), self.d.copy_member_into(i, self.ds[i])

    def state(self) -> dict:
        return {"g": self.g.state_dict(), "d": self.d.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "regularizers": [r.state_dict() for r in self.regs],
                "streams": self.streams.state()}

    def load(self, state: dict) -> None:
        self.g.load_state_dict(state["g"]), self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"]), self.opt_d.load_state_dict(state["opt_d"])
        for reg, s in zip(self.regs, state["regularizers"]):
            reg.load_state_dict(s)
        self.streams.load(state["streams"])
