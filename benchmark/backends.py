"""The members a training step updates: k runs held as one thing the step engine (steps.py) can drive.

``Plain`` is a group of one: the run's own modules, torch's Adam, the global random streams, as a solo run
has always trained. ``Fused`` is a group of k: the members' modules stacked (stacked.Stacked) and
run as one batched model, one Adam per member (member_adam.MemberAdam), each member's random draws from its
own stream (member_rng.MemberStreams). Both are built member by member from each run's seed exactly as its
solo run is built, and offer the same interface, so D's and G's updates are written once (HFTA's rule: the
plain op is the fused op at width one). Every per-member quantity is a vector of k.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import vmap

from .hooks import checked_layer_hooks, checked_penalty
from .latent import sample_latent
from .losses import create_loss
from .member_adam import MemberAdam
from .member_rng import MemberStreams
from .models import create_models
from .regularizers import Regularizer, create_regularizer
from .stacked import Stacked
from .schema import RunSpec, solo_reason


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build(spec: RunSpec, *, channels: int, device: torch.device) -> tuple[nn.Module, nn.Module, Regularizer]:
    """One run's G, D and regularizer, from the global random stream as it stands (the caller seeds it)."""
    reg = create_regularizer(spec.regularizer, **dict(spec.params))
    wrap_layer, normalization = checked_layer_hooks(reg)
    g, d = create_models(spec.architecture, size=spec.image_size, channels=channels, width=spec.width,
                         z_dim=spec.z_dim, wrap_layer=wrap_layer, normalization=normalization,
                         init=spec.init)
    reg.initialize(d)
    return g.to(device), d.to(device), reg


def has_batch_statistics(d: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())


class Plain:
    """A group of one: the modules themselves (compiled if the run asks), torch's fused Adam, the global
    random streams. Hooks see the modules themselves."""

    k = 1

    def __init__(self, spec: RunSpec, g: nn.Module, d: nn.Module, reg: Regularizer, device: torch.device):
        self.spec, self.device = spec, device
        self.g_module, self.d_module, self.reg = g, d, reg
        # the forwards of the step; hooks and state_dicts see the modules themselves
        self.g = torch.compile(g) if spec.compile else g
        self.d = torch.compile(d) if spec.compile else d
        self.loss = create_loss(spec.loss)
        # fused Adam: one kernel for all parameters instead of a Python loop over them
        self.opt_d = torch.optim.Adam(d.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
        self.opt_g = torch.optim.Adam(g.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
        self.data_rngs = [torch.Generator().manual_seed(spec.seed)]
        self.d_params = [p for p in d.parameters() if p.requires_grad]
        self.batch_statistics = has_batch_statistics(d)

    @classmethod
    def create(cls, specs: list[RunSpec], channels: int, device: torch.device) -> "Plain":
        (spec,) = specs
        torch.manual_seed(spec.seed)
        g, d, reg = build(spec, channels=channels, device=device)
        if spec.channels_last:
            g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        return cls(spec, g, d, reg, device)

    @property
    def regs(self) -> list[Regularizer]:
        return [self.reg]

    def z(self, n: int) -> torch.Tensor:
        return sample_latent(self.spec.latent, n, self.spec.z_dim, device=self.device)

    def scale_lr(self, factor: float) -> None:
        for opt in (self.opt_d, self.opt_g):
            for group in opt.param_groups:
                group["lr"] = self.spec.lr * factor

    def loss_d(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        return self.loss.d(d_real, d_fake).reshape(1)

    def loss_g(self, d_fake: torch.Tensor) -> torch.Tensor:
        return self.loss.g(d_fake).reshape(1)

    # -- hooks -------------------------------------------------------------------------------------------
    def augment(self, *batches: torch.Tensor) -> list[torch.Tensor]:
        return [self.reg.augment(b) for b in batches]

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        return self.reg.discriminate(self.d, images)

    def penalties(self, real, fake, d_real, d_fake, extras) -> tuple[torch.Tensor, torch.Tensor] | None:
        outputs = {"d_real": d_real, "d_fake": d_fake}
        extra = checked_penalty(self.reg.name, self.reg.penalty(
            discriminator=self.d_module, real=real, fake=fake, **{k: outputs[k] for k in extras}))
        return None if extra is None else (extra, extra.detach().reshape(1))

    def after_d_step(self) -> None:
        self.reg.after_d_step(self.d_module)

    # -- members and state -------------------------------------------------------------------------------
    def member(self, i: int) -> tuple[nn.Module, nn.Module]:
        return self.g_module, self.d_module

    def member_finite(self) -> list[bool]:
        return [True]  # a solo run's loss says it all

    def state(self) -> dict:
        cuda = self.device.type == "cuda"
        return {"g": self.g_module.state_dict(), "d": self.d_module.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
                "regularizers": [self.reg.state_dict()]}

    def load(self, state: dict) -> None:
        self.g_module.load_state_dict(state["g"]), self.d_module.load_state_dict(state["d"])
        self.reg.load_state_dict(state["regularizers"][0])
        self.opt_g.load_state_dict(state["opt_g"]), self.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)


class Fused:
    """A fused group of k members as one batched model. Losses are per-member means, summed over members for
    the backward, so each member's gradient is its own. Hooks follow the contract in regularizers/base.py:
    per member (on views of its weights, with its stream as the global one) unless the regularizer lists
    them in ``batched``."""

    def __init__(self, specs: list[RunSpec], channels: int, device: torch.device):
        for spec in specs:
            reason = solo_reason(spec)
            if reason:  # suite.groups never makes such a group; a direct caller is told why
                raise ValueError(f"{spec.label} cannot train in a fused group: {reason}")
        members, cpu_states = [], []
        for spec in specs:  # member s draws its init from seed s exactly as its solo run does
            torch.manual_seed(spec.seed)
            members.append(build(spec, channels=channels, device=device))
            cpu_states.append(torch.get_rng_state())
        spec = specs[0]
        self.spec, self.k, self.device = spec, len(specs), device
        self.gs, self.ds, self.regs = ([m[i] for m in members] for i in range(3))
        self.g, self.d = Stacked(self.gs).to(device), Stacked(self.ds).to(device)
        self.streams = MemberStreams(cpu_states, [s.seed for s in specs], device)
        self.data_rngs = [torch.Generator().manual_seed(s.seed) for s in specs]
        loss = create_loss(spec.loss)
        self._loss_d, self._loss_g = vmap(loss.d), vmap(loss.g)  # (k, B) -> k per-member means
        hp = {"lr": [s.lr for s in specs], "beta1": [s.beta1 for s in specs], "beta2": [s.beta2 for s in specs]}
        self.opt_d, self.opt_g = MemberAdam(self.d.parameters(), **hp), MemberAdam(self.g.parameters(), **hp)
        self.batched = {h for h in self.regs[0].batched if self.regs[0].uses(h)}
        self.d_params = [p for p in self.d.parameters() if p.requires_grad]
        self.batch_statistics = has_batch_statistics(self.ds[0])

    @classmethod
    def create(cls, specs: list[RunSpec], channels: int, device: torch.device) -> "Fused":
        return cls(specs, channels, device)

    def z(self, n: int) -> torch.Tensor:
        return torch.cat([sample_latent(self.spec.latent, n, self.spec.z_dim, device=self.device,
                                        generator=self.streams.gen(i, self.device)) for i in range(self.k)])

    def scale_lr(self, factor: float) -> None:
        self.opt_d.scale_lr(factor), self.opt_g.scale_lr(factor)

    def loss_d(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        return self._loss_d(d_real.view(self.k, -1), d_fake.view(self.k, -1))

    def loss_g(self, d_fake: torch.Tensor) -> torch.Tensor:
        return self._loss_g(d_fake.view(self.k, -1))

    # -- hooks, member by member or batched --------------------------------------------------------------
    def _blocks(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return x.chunk(self.k)

    def augment(self, *batches: torch.Tensor) -> list[torch.Tensor]:
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
        if "discriminate" in self.batched:
            with self.streams.split_draws("discriminate"):
                return self.regs[0].discriminate(self.d, images)
        outs = []
        for i, block in enumerate(self._blocks(images)):
            with self.streams.as_global(i):
                outs.append(self.d.call_member(i, lambda m: self.regs[i].discriminate(m, block)))
        return torch.cat(outs)

    def penalties(self, real, fake, d_real, d_fake, extras) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(what the backward adds: the sum of the members' penalties, each member's penalty for its logged
        loss), or None. A batched penalty is the mean over the group's samples of per-sample terms, so k times
        it is the sum of the members' own means; each member is charged it."""
        outputs = {"d_real": d_real, "d_fake": d_fake}
        name = self.regs[0].name
        if "penalty" in self.batched:
            with self.streams.split_draws("penalty"):
                extra = checked_penalty(name, self.regs[0].penalty(
                    discriminator=self.d, real=real, fake=fake, **{k: outputs[k] for k in extras}))
            if extra is None:
                return None
            # a non-finite mean is some member's own trouble (its weights say whose after the step,
            # member_finite), not logged on all of them
            return extra * self.k, torch.where(extra.detach().isfinite(), extra.detach(), 0.0).expand(self.k)
        pens = []
        blocks = [self._blocks(t) for t in (real, fake, d_real, d_fake)]
        for i in range(self.k):
            r, f, dr, df = (b[i] for b in blocks)
            mine = {"d_real": dr, "d_fake": df}
            with self.streams.as_global(i):
                extra = checked_penalty(name, self.d.call_member(i, lambda m: self.regs[i].penalty(
                    discriminator=m, real=r, fake=f, **{k: mine[k] for k in extras})))
            pens.append(extra if extra is not None else torch.zeros((), device=self.device))
        pens = torch.stack(pens)
        return pens.sum(), pens.detach()

    def after_d_step(self) -> None:
        if "after_d_step" in self.batched:
            self.regs[0].after_d_step(self.d)
            return
        for i in range(self.k):
            with self.streams.as_global(i):
                self.d.call_member(i, self.regs[i].after_d_step, grad=False)

    # -- members and state -------------------------------------------------------------------------------
    def member(self, i: int) -> tuple[nn.Module, nn.Module]:
        """Member i's G and D as plain modules holding its current weights (for probes, scoring, saving)."""
        return self.g.copy_member_into(i, self.gs[i]), self.d.copy_member_into(i, self.ds[i])

    @torch.no_grad()
    def member_finite(self) -> list[bool]:
        """Whether each member's weights and buffers (G's and D's) are all finite."""
        ok = torch.ones(self.k, dtype=torch.bool, device=self.device)
        for module in (self.g, self.d):
            for t in module.tensors().values():
                if t.is_floating_point():
                    ok &= t.reshape(self.k, -1).isfinite().all(1)
        return ok.tolist()

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


def backend_for(specs: list[RunSpec], channels: int, device: torch.device, *, fused: bool | None = None):
    """The members of a group as one trainee: Plain for a group of one, Fused for more (``fused`` True: Fused
    even for one, the batched path at width one, which the perf rows and tests compare with Plain)."""
    fused = len(specs) > 1 if fused is None else fused
    if not fused and len(specs) > 1:
        raise ValueError(f"a group of {len(specs)} trains fused or not at all: split it into groups of one")
    return (Fused if fused else Plain).create(specs, channels, device)
