"""`regbench check-plugin NAME`: does a regularizer behave on real networks? Any author can run it.

On the tiny standard CNN and ResNet, on CPU and random images: D and G are built with the regularizer's
hooks, D and G steps are taken with the same code as every run (steps.Steps), and we check finite losses,
gradients that reach every parameter, a state_dict that round-trips, an eval mode without side effects,
an augmentation that keeps shapes and gradients, a D forward hook whose output D's loss can take, a few
updates through the trainer itself, a run resumed from a checkpoint that ends where an uninterrupted one
does, regularizer state included, and a fused group of 3 members that equals their 3 solo runs. The built-in regularizers all pass (tests/test_plugins.py).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import tempfile
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

import torch

from .schema import RunSpec
from .suite import run_spec
from .steps import solo_steps
from .backends import build
from .train import train, train_group

ARCHS = {"standard_cnn": 16, "resnet": 16}  # architecture -> image size: the smallest each builds at
BATCH = 8


@dataclass
class Outcome:
    check: str
    results: dict  # architecture -> "pass" or the reason it failed


def _spec(name: str, architecture: str, params: dict | None) -> RunSpec:
    return run_spec({"name": name, "params": params or {}}, {"name": "check", "lr": 2e-4, "beta1": 0.5,
                    "beta2": 0.999, "n_dis": 2}, path="check-plugin", dataset="digits", image_size=ARCHS[architecture],
                    architecture=architecture, width=0.125, steps=3, batch_size=BATCH, log_every=1, track_sn_every=3)


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all())


def _gradients(module: torch.nn.Module, what: str) -> None:
    missing = [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None]
    bad = [n for n, p in module.named_parameters() if p.grad is not None and not _finite(p.grad)]
    if missing:
        raise AssertionError(f"no gradient reaches {what} parameter(s) {', '.join(missing[:3])}")
    if bad:
        raise AssertionError(f"non-finite gradient in {what} parameter(s) {', '.join(bad[:3])}")
    if not any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()):
        raise AssertionError(f"every {what} gradient is zero")


def _changed(before: dict, after: dict) -> list[str]:
    return [k for k in before if not torch.equal(before[k], after[k])]


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.allclose(a.float().cpu(), b.float().cpu(), rtol=1e-5, atol=1e-8)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12)
    return a == b


def _state_attributes(reg) -> dict:
    """The numbers and tensors a regularizer holds outside its hyperparameters: what a stateful one that forgot
    state_dict() would lose on resume."""
    return {k: v for k, v in vars(reg).items()
            if k != "params" and isinstance(v, (numbers.Real, torch.Tensor)) and not isinstance(v, bool)}


def _checks(spec: RunSpec) -> list[tuple[str, Callable[[], None]]]:
    """The checks for one architecture, in order; each raises AssertionError with the reason."""
    torch.manual_seed(0)
    device = torch.device("cpu")
    state: dict = {}
    images = torch.rand(BATCH, 3, spec.image_size, spec.image_size) * 2 - 1

    def builds():
        g, d, reg = build(spec, channels=3, device=device)
        out = d(images)
        if out.numel() != BATCH or not _finite(out):
            raise AssertionError(f"D's output has shape {tuple(out.shape)} or is not finite")
        state.update(g=g, d=d, reg=reg, steps=solo_steps(spec, g, d, reg, device))

    def d_step():
        loss = state["steps"].d_step(images)
        if not math.isfinite(loss.item()):
            raise AssertionError(f"D loss {loss.item()}")
        _gradients(state["d"], "D")
        if not all(_finite(p) for p in state["d"].parameters()):
            raise AssertionError("D's weights are not finite after the step (and after_d_step)")

    def g_step():
        loss = state["steps"].g_step(BATCH)
        if not math.isfinite(loss.item()):
            raise AssertionError(f"G loss {loss.item()}")
        _gradients(state["g"], "G")

    def round_trip():
        d = state["d"]
        d.eval()
        out = d(images)
        _, fresh, _ = build(spec, channels=3, device=device)
        fresh.load_state_dict(d.state_dict())  # strict: every key the regularizer adds must load back
        fresh.eval()
        if not torch.allclose(out, fresh(images), atol=1e-6):
            raise AssertionError("a D loaded from the state_dict computes something else in eval mode")
        d.train()

    def eval_mode():
        d = state["d"]
        d.eval()
        before = {k: v.clone() for k, v in d.state_dict().items()}
        first, second = d(images), d(images)
        changed = _changed(before, d.state_dict())
        d.train()
        if changed:
            raise AssertionError(f"a forward in eval mode changed {', '.join(changed[:3])}")
        if not torch.equal(first, second):
            raise AssertionError("two forwards in eval mode differ")

    def augment():
        reg = state["reg"]
        if not reg.uses("augment"):
            return
        x = images.clone().requires_grad_(True)
        out = reg.augment(x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise AssertionError(f"augment turned a batch of shape {tuple(x.shape)} into "
                                 f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
        if not _finite(out):
            raise AssertionError("augment's output is not finite")
        if not out.requires_grad:
            raise AssertionError("augment's output has no gradient to its input (G's gradient must flow through it)")
        (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
        if grad is None or not _finite(grad) or not grad.abs().sum() > 0:
            raise AssertionError("augment is not differentiable: no finite, non-zero gradient reaches its input")

    def discriminate():
        reg, d = state["reg"], state["d"]
        if not reg.uses("discriminate"):
            return
        fake = state["g"](torch.randn(BATCH, spec.z_dim))  # with G's graph, as in G's step
        out = reg.discriminate(d, fake)
        if not isinstance(out, torch.Tensor) or out.numel() != BATCH or not _finite(out):
            raise AssertionError("discriminate must return one finite output per image, got "
                                 f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
        (grad,) = torch.autograd.grad(out.sum(), fake, allow_unused=True)
        if grad is None or not grad.abs().sum() > 0:
            raise AssertionError("discriminate's output has no gradient to the images (G could not learn)")

    real = torch.randint(0, 256, (64, 3, spec.image_size, spec.image_size), dtype=torch.uint8)

    def trainer():
        outcome = train(spec, real, progress=False)
        if outcome.status != "ok":
            raise AssertionError(outcome.error or outcome.status)

    def resume():
        # a 4-update run checkpoints at update 2 and goes on; a second call resumes from that checkpoint
        longer = dataclasses.replace(spec, steps=4, checkpoint_every=2)
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = Path(tmp) / "run.pt"
            whole = train(longer, real, progress=False, checkpoint=ckpt)
            resumed = train(longer, real, progress=False, checkpoint=ckpt)
        if resumed.resumed_from != 2:
            raise AssertionError(f"the run resumed from update {resumed.resumed_from}, not 2")
        a, b = whole.regularizer, resumed.regularizer
        if not _same(a.state_dict(), b.state_dict()):
            raise AssertionError("the regularizer's state_dict() after resuming differs from an uninterrupted run's")
        for key, value in _state_attributes(a).items():
            if not _same(value, _state_attributes(b).get(key)):
                raise AssertionError(f"attribute {key!r} of the regularizer differs after resuming from a checkpoint: "
                                     "keep state in state_dict() / load_state_dict()")
        for (key, x), y in zip(whole.generator.state_dict().items(), resumed.generator.state_dict().values()):
            if not _same(x, y):
                raise AssertionError(f"G's {key} after resuming differs from an uninterrupted run's")

    def fused():
        # 3 members that differ in seed, lr and betas, trained as one group, against their 3 solo runs; in
        # float64, where only rounding may differ (float32 Adam amplifies the grouped convs' rounding)
        from .regularizers import REGULARIZERS

        if not REGULARIZERS.get(spec.regularizer).fusable:
            return  # it declares so: its runs train alone
        members = [dataclasses.replace(spec, steps=4, seed=seed, lr=lr, beta1=b1, beta2=b2)
                   for seed, lr, b1, b2 in ((0, 2e-4, 0.5, 0.999), (1, 1e-3, 0.0, 0.9), (2, 5e-4, 0.5, 0.9))]
        before = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            solo = [train(m, real, progress=False) for m in members]
            group = train_group(members, real, progress=False)
        finally:
            torch.set_default_dtype(before)
        for m, a, b in zip(members, solo, group):
            if a.status != b.status:
                raise AssertionError(f"seed {m.seed}: the solo run ended {a.status}, the fused member {b.status}")
            for what, x, y in (("G", a.generator, b.generator), ("D", a.discriminator, b.discriminator)):
                x, y = (torch.cat([t.detach().flatten().double() for t in net.state_dict().values()
                                   if t.is_floating_point()]) for net in (x, y))
                rel = ((x - y).norm() / x.norm()).item()
                if not rel < 1e-6:
                    raise AssertionError(f"seed {m.seed}: the fused member's {what} differs from its solo run's by "
                                         f"{rel:.1e} (relative) after 4 updates; a hook in `batched` may not be "
                                         "elementwise, or keep state (docs/plugins.md, fused runs)")

    return [("builds D and G; D's output is finite", builds),
            ("augment: same shape, finite, differentiable (if used)", augment),
            ("discriminate: one output per image, gradient to it (if used)", discriminate),
            ("D step: finite loss, gradients reach every D weight", d_step),
            ("G step: finite loss, gradients reach every G weight", g_step),
            ("state_dict round trip (eval-mode output equal)", round_trip),
            ("eval mode has no side effects", eval_mode),
            (f"{spec.steps} updates through the trainer (n_dis {spec.n_dis})", trainer),
            ("resumed from a checkpoint = uninterrupted, regularizer state too", resume),
            ("fused run of 3 members = their 3 solo runs (if fusable)", fused)]


def check_plugin(name: str, *, params: dict | None = None) -> list[Outcome]:
    """Every check on every architecture; a check after a failed one on the same architecture is skipped."""
    table: dict[str, dict] = {}
    for arch in ARCHS:
        failed = False
        for label, fn in _checks(_spec(name, arch, params)):
            if failed:
                table.setdefault(label, {})[arch] = "skipped"
                continue
            try:
                fn()
                table.setdefault(label, {})[arch] = "pass"
            except Exception as exc:  # a plugin's bug is this check's finding, not our crash
                msg = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
                table.setdefault(label, {})[arch] = f"FAIL: {msg}"
                failed = True
    return [Outcome(check, results) for check, results in table.items()]


def passed(outcomes: list[Outcome]) -> bool:
    return all(v == "pass" for o in outcomes for v in o.results.values())


def format_table(name: str, outcomes: list[Outcome]) -> str:
    width = max(len(o.check) for o in outcomes)
    lines = [f"check-plugin {name}", "", f"{'check':<{width}}  " + "  ".join(f"{a:<12}" for a in ARCHS)]
    reasons = []
    for o in outcomes:
        cells = []
        for arch in ARCHS:
            value = o.results[arch]
            cells.append(f"{value if value in ('pass', 'skipped') else 'FAIL':<12}")
            if value.startswith("FAIL"):
                reasons.append(f"  {arch}, {o.check}: {value[len('FAIL: '):]}")
        lines.append(f"{o.check:<{width}}  " + "  ".join(cells))
    n_pass = sum(v == "pass" for o in outcomes for v in o.results.values())
    total = len(outcomes) * len(ARCHS)
    lines += ["", *(["why:", *reasons, ""] if reasons else []),
              f"{'PASS' if n_pass == total else 'FAIL'}: {name} passed {n_pass} of {total} checks"]
    return "\n".join(lines)
