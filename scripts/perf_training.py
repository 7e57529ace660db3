"""`make perf`'s training rows: our trainer against a bare PyTorch loop, each regularizer against `none`,
and our spectral norm against torch's. Everything here is timed the way a result's sec_per_100_updates is:
the update loop only, the device synchronized before the clock is read.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm

from benchmark.data import CHANNELS, to_unit_range
from benchmark.models import create_models
from benchmark.regularizers import BUILTINS
from benchmark.regularizers.spectral_norm import SpectralNormalized
from benchmark.schema import RunSpec
from benchmark.suite import run_spec
from benchmark.train import resolve_device, train

# suites/default.yaml's model; D passes joint (the default runs separate ones) because the bare loop below passes
# real and fake as one batch: the row measures the harness, not the protocol
DEFAULT_MODEL = {"dataset": "digits", "image_size": 8, "width": 0.125, "batch_size": 64, "d_passes": "joint"}
PAPER_MODEL = {"dataset": "cifar10", "image_size": 32, "width": 1.0, "batch_size": 64}  # Table 3 at 32x32


def spec_for(name: str, model: dict, *, steps: int, n_dis: int = 5, device: str = "cpu") -> RunSpec:
    return run_spec(name, {"name": "perf", "lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": n_dis}, path="perf",
                    **{**model, "architecture": "standard_cnn", "steps": steps, "log_every": steps,
                       "track_sn_every": 10 * steps, "device": device})


def real_images(spec: RunSpec, n: int = 2048) -> torch.Tensor:
    """Random uint8 images: speed does not depend on what the pixels show, and nothing is downloaded."""
    return torch.randint(0, 256, (n, CHANNELS.get(spec.dataset, 3), spec.image_size, spec.image_size),
                         dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def ours(spec: RunSpec, real: torch.Tensor) -> float:
    return train(spec, real, progress=False).sec_per_100_updates


def _ours_sn(layer):
    sn = SpectralNormalized(layer.weight.detach(), power_iterations=1, eps=1e-12)
    parametrize.register_parametrization(layer, "weight", sn)
    return layer


def bare(spec: RunSpec, real: torch.Tensor, *, kind: str) -> float:
    """The same model, loss, batch and optimizer as ``spec``, written out by hand: no registry, no hooks, no
    history. kind: none | spectral_norm (ours) | torch_spectral_norm | wgan_gp."""
    device = resolve_device(spec.device)
    torch.manual_seed(spec.seed)
    wrap = {"spectral_norm": _ours_sn, "torch_spectral_norm": torch_spectral_norm}.get(kind, lambda layer: layer)
    g, d = create_models("standard_cnn", size=spec.image_size, channels=real.shape[1], width=spec.width,
                         z_dim=spec.z_dim, wrap_layer=wrap, normalization=lambda n: None)
    g, d, real = g.to(device), d.to(device), real.to(device)
    opt_d = torch.optim.Adam(d.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
    opt_g = torch.optim.Adam(g.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), fused=True)
    b, z = spec.batch_size, spec.z_dim
    rng = torch.Generator().manual_seed(spec.seed)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(spec.steps):
        for _ in range(spec.n_dis):
            x = to_unit_range(real[torch.randint(len(real), (b,), generator=rng).to(device)])
            with torch.no_grad():
                fake = g(torch.randn(b, z, device=device))
            # as the spec says: one joint forward, or real and fake apart (the default, the authors' updater)
            out_real, out_fake = d(torch.cat([x, fake])).split(b) if spec.d_passes == "joint" else (d(x), d(fake))
            if kind == "wgan_gp":
                loss = out_fake.mean() - out_real.mean()
                eps = torch.rand(b, 1, 1, 1, device=device)
                x_hat = (eps * x + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
                loss = loss + 10.0 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            else:
                loss = F.softplus(-out_real).mean() + F.softplus(out_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
        d.requires_grad_(False)  # as the trainer does: G's step needs no gradient for D's weights
        out = d(g(torch.randn(b, z, device=device)))
        g_loss = -out.mean() if kind == "wgan_gp" else F.softplus(-out).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        d.requires_grad_(True)
        opt_g.step()
    sync()
    return 100.0 * (time.perf_counter() - start) / spec.steps


def alternate(fns: dict, reps: int) -> dict[str, list[float]]:
    """Each function once per repetition, in turn, so drift in the machine's load hits them all alike;
    one unmeasured call each first (allocator, thread pools, first-call dispatch)."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            times[k].append(fn())
    return times


def spread(xs: list[float], digits: int = 2) -> str:
    """Median and range of repeated timings, as every row of make perf shows them."""
    return f"{statistics.median(xs):.{digits}f} s ({min(xs):.{digits}f}-{max(xs):.{digits}f})"


Row = tuple[str, str, str, str]  # what | ours | alternative | result
DEFAULT = (DEFAULT_MODEL, "default suite's model")
PAPER = (PAPER_MODEL, "standard CNN 32x32, paper width")


def overhead_rows(reps: int, steps: int, *, model: tuple[dict, str] = DEFAULT, device: str = "cpu") -> list[Row]:
    """The trainer against the bare loop: what the harness itself costs."""
    rows = []
    for name in ("none", "spectral_norm", "wgan_gp"):
        spec = spec_for(name, model[0], steps=steps, device=device)
        real = real_images(spec)
        t = alternate({"ours": lambda: ours(spec, real), "bare": lambda: bare(spec, real, kind=name)}, reps)
        ratio = statistics.median(t["ours"]) / statistics.median(t["bare"])
        rows.append((f"harness overhead, {name} ({model[1]}, n_dis 5, s / 100 updates; {reps} x {steps} updates)",
                     f"trainer: {spread(t['ours'])}", f"bare loop: {spread(t['bare'])}", f"{ratio:.3f}x (goal <= 1.03)"))
    return rows


def cost_rows(reps: int, steps: int, *, model: tuple[dict, str] = PAPER, device: str = "cpu",
              title: str = "regularizer cost") -> list[Row]:
    """The paper's Figure 10: each regularizer's seconds per 100 generator updates (n_dis 5, solo), all in this
    process and alternated, so a change in the machine's load reaches every regularizer alike; the ratio to
    `none` is taken within each repetition (median, and the range over repetitions)."""
    specs = {name: spec_for(name, model[0], steps=steps, device=device) for name in BUILTINS}
    real = real_images(specs["none"])
    t = alternate({name: (lambda s=s: ours(s, real)) for name, s in specs.items()}, reps)
    rows = []
    for name in BUILTINS:
        ratios = [a / b for a, b in zip(t[name], t["none"])]
        goal = " (goal <= 1.10)" if name == "spectral_norm" else ""
        rows.append((f"{title}, {name} ({model[1]}, n_dis 5, solo; s / 100 updates; {reps} x {steps} updates)",
                     f"{spread(t[name])}", f"none: {spread(t['none'])}",
                     f"{statistics.median(ratios):.2f}x none ({min(ratios):.2f}-{max(ratios):.2f}){goal}"))
    return rows


def sn_row(reps: int, steps: int, *, model: tuple[dict, str], device: str = "cpu") -> Row:
    """Our spectral norm against torch's in the same bare loop."""
    spec = spec_for("spectral_norm", model[0], steps=steps, device=device)
    real = real_images(spec)
    t = alternate({"ours": lambda: bare(spec, real, kind="spectral_norm"),
                   "torch": lambda: bare(spec, real, kind="torch_spectral_norm")}, reps)
    ratio = statistics.median(t["ours"]) / statistics.median(t["torch"])
    return (f"spectral norm: ours vs torch.nn.utils.parametrizations.spectral_norm ({model[1]}, n_dis 5; "
            f"{reps} x {steps} updates)",
            f"ours: {spread(t['ours'])}", f"torch: {spread(t['torch'])}", f"{ratio:.3f}x torch's time (goal <= 1.0)")


def _fused_probe(name: str, n_dis: int, k: int, steps: int) -> dict:
    """In a fresh process (one thread, as a sweep's worker), on the default suite's model: a solo run, one member
    on the fused path, then a fused group of k seeds; seconds per 100 updates per member for each, and the
    process's peak memory after the solo run and after the group (MiB, VmHWM: data and torch included)."""
    import dataclasses

    from benchmark.provenance import peak_rss_mb
    from benchmark.train import train_group

    torch.set_num_threads(1)
    base = spec_for(name, DEFAULT_MODEL, steps=steps, n_dis=n_dis)
    real = real_images(base)
    specs = [dataclasses.replace(base, seed=seed) for seed in range(k)]
    # each timed call after an untimed one of the same shapes (oneDNN builds its kernels per shape, the
    # allocator grows), as every make perf row has, so no side pays them
    warm = [dataclasses.replace(s, steps=2, log_every=2) for s in specs]

    def timed(members, fused):
        train_group(warm[:len(members)], real, progress=False, fused=fused)
        return train_group(members, real, progress=False, fused=fused)[0].sec_per_100_updates

    out = {"solo": timed(specs[:1], False)}
    out["solo_peak"] = peak_rss_mb()
    out["one"] = timed(specs[:1], True)
    out["fused"] = timed(specs, True)
    out["fused_peak"] = peak_rss_mb()
    return out


def fused_rows(reps: int, steps: int, k: int = 10) -> list[Row]:
    """Per-member throughput of a fused group of k seeds against a solo run of the same model, and one member
    alone on the fused path (a group of one takes the solo path): each repetition in its own process."""
    import multiprocessing

    rows = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        for n_dis in (1, 5):
            for name in ("none", "spectral_norm", "wgan_gp"):
                runs = [pool.apply(_fused_probe, (name, n_dis, k, steps)) for _ in range(reps)]
                t = {key: [r[key] for r in runs] for key in ("solo", "one", "fused")}
                solo, fused, one = (statistics.median(t[key]) for key in ("solo", "fused", "one"))
                goal = ">= 2x" if n_dis == 1 else ">= 1.5x"
                rows.append((f"fused {k} seeds, {name} (default suite's model, n_dis {n_dis}; s / 100 updates per "
                             f"member; {reps} x {steps} updates)",
                             f"fused x{k}: {spread(t['fused'])}, peak {max(r['fused_peak'] for r in runs):.0f} MiB; "
                             f"one member on the fused path: {spread(t['one'])}",
                             f"solo: {spread(t['solo'])}, peak {max(r['solo_peak'] for r in runs):.0f} MiB",
                             f"{solo / fused:.2f}x solo's throughput (goal {goal}); fused path alone {solo / one:.2f}x "
                             "solo (so groups of one take the solo path)"))
    return rows


def matmul_peak_gflops(n: int = 2048, reps: int = 5) -> float:
    """One thread's float32 matmul throughput (GFLOP/s): the most a convolution (a matmul after im2col or in
    oneDNN's direct kernels) can reach on this core, so each row can say how far below it it runs."""
    torch.set_num_threads(1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed_once(lambda: a @ b) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def _timed_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


GRAY32 = {"dataset": "fashion_mnist", "image_size": 32, "batch_size": 64}  # Fashion-MNIST's model, 1 channel
FASHION = ({**GRAY32, "width": 0.125}, "standard CNN 32x32, 1 channel, width 1/8")


def _gray32_probe(width: float, n_dis: int, k: int, steps: int) -> dict:
    """In a fresh one-thread process: seconds per 100 updates of a solo run and, per member, of a fused group
    of k seeds, of the standard CNN at 32x32 on one channel (random images), and the core's matmul peak."""
    import dataclasses

    from benchmark.train import train_group

    torch.set_num_threads(1)
    base = spec_for("none", {**GRAY32, "width": width}, steps=steps, n_dis=n_dis)
    real = torch.randint(0, 256, (1024, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    specs = [dataclasses.replace(base, seed=seed) for seed in range(k)]
    warm = [dataclasses.replace(s, steps=1, log_every=1) for s in specs]

    def timed(members, fused):
        train_group(warm[:len(members)], real, progress=False, fused=fused)
        return train_group(members, real, progress=False, fused=fused)[0].sec_per_100_updates

    return {"solo": timed(specs[:1], False), "fused": timed(specs, True), "peak": matmul_peak_gflops()}


def gray32_rows(reps: int, steps: int, k: int = 10) -> list[Row]:
    """Fashion-MNIST's model (standard CNN, 32x32, one channel) solo and fused by k, at widths 1/8 and 1/4 and
    n_dis 1 and 5: what `fuse: auto` decides from (benchmark/fusing.py), with the achieved GFLOP/s against the
    core's matmul peak (FLOPs counted by torch.utils.flop_counter, the regularizer's own excluded)."""
    import multiprocessing

    from benchmark.fusing import CPU_GFLOP, update_gflop

    rows = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        for width in (0.125, 0.25):
            for n_dis in (1, 5):
                runs = [pool.apply(_gray32_probe, (width, n_dis, k, steps)) for _ in range(reps)]
                solo = [r["solo"] for r in runs]
                fused = [r["fused"] for r in runs]
                peak = statistics.median(r["peak"] for r in runs)
                gflop = update_gflop("standard_cnn", 32, 1, width, 128, 64, 64, n_dis, "separate")
                rate = {key: gflop / (statistics.median(xs) / 100) for key, xs in (("solo", solo), ("fused", fused))}
                rows.append((
                    f"Fashion-MNIST's model, width 1/{round(1 / width)}, n_dis {n_dis} (standard CNN 32x32, 1 channel, "
                    f"none; {gflop:.2f} GFLOP per update; s / 100 updates per member; {reps} x {steps} updates)",
                    f"fused x{k}: {spread(fused)}, {rate['fused']:.1f} GFLOP/s ({rate['fused'] / peak:.0%} of peak)",
                    f"solo: {spread(solo)}, {rate['solo']:.1f} GFLOP/s ({rate['solo'] / peak:.0%} of the core's "
                    f"{peak:.0f} GFLOP/s matmul peak)",
                    f"fused {statistics.median(solo) / statistics.median(fused):.2f}x solo's throughput; "
                    f"fuse auto: {'fuse' if gflop < CPU_GFLOP else 'alone'}"))
    return rows
