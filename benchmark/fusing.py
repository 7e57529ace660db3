"""Whether fusing pays: the default (``fuse: auto``) decides per group from the model's cost and the device.

Measured on 2-core CPUs (one thread, separate D passes; `make perf`'s fused rows, reports/perf/perf.md): a fused
group of 10 seeds trains each member 1.5-2.0x as fast as a solo run on the digits' model (0.17 GFLOP per
generator update at n_dis 1, 0.54 at n_dis 5; AMD EPYC), but 0.95x on Fashion-MNIST's 32x32 model at width 1/8
and n_dis 1 (2.9 GFLOP), 1.00x at n_dis 5 (9.1), and 0.70-0.72x at width 1/4 (11-36 GFLOP; Intel Xeon). Small
models leave a core's vector units idle between ops, and fusing fills them; a model that already keeps the core
busy only adds the grouped convolutions' overhead. So on a CPU, fuse below ``CPU_GFLOP`` per update.

On a GPU, a small model leaves most of the device idle, which is where HFTA (Wang et al., MLSys 2021) measured
fusing at its best; regbench has not measured the crossover there, so CUDA fuses every group and says so
(`fuse: 1` in the suite forces runs alone, `fuse: N` forces groups of N).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

AUTO_SIZE = 10  # members per group when fusing pays (the digits measurements' size)
CPU_GFLOP = 1.5  # between 0.54 (fusing pays 1.5-2.0x) and 2.9 GFLOP per generator update (it does not: 0.95x)


@dataclass(frozen=True)
class Decision:
    size: int  # the most members per group
    gflop: float  # per generator update, per member
    device: str
    reason: str


@lru_cache(maxsize=None)
def update_gflop(architecture: str, image_size: int, channels: int, width: float, z_dim: int, batch_size: int,
                 g_batch_size: int, n_dis: int, d_passes: str) -> float:
    """GFLOP of one generator update (n_dis D updates and one G update, forward and backward), counted by
    torch.utils.flop_counter on the models themselves (convolutions and matmuls; a regularizer's own cost,
    such as WGAN-GP's double backward, is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    from .models import create_models

    g, d = create_models(architecture, size=image_size, channels=channels, width=width, z_dim=z_dim,
                         wrap_layer=lambda layer: layer, normalization=lambda n: None)
    real = torch.zeros(batch_size, channels, image_size, image_size)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():  # the D step's fakes
            fake = g(torch.zeros(batch_size, z_dim))
        if d_passes == "joint":
            d(torch.cat([real, fake])).sum().backward()
        else:
            (d(real).sum() + d(fake).sum()).backward()
    d_step = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        d(g(torch.zeros(g_batch_size, z_dim))).sum().backward()
    g_step = counter.get_total_flops()
    return (n_dis * d_step + g_step) / 1e9


def decide(spec, device: str | None = None) -> Decision:
    """Fuse ``spec``'s group or not, and why (``spec``: a RunSpec; ``device``: its resolved device type)."""
    from .data import CHANNELS
    from .backends import resolve_device

    device = device or resolve_device(spec.device).type
    gflop = update_gflop(spec.architecture, spec.image_size, CHANNELS.get(spec.dataset, 3), spec.width,
                         spec.z_dim, spec.batch_size, spec.g_batch_size, spec.n_dis, spec.d_passes)
    if device == "cuda":
        return Decision(AUTO_SIZE, gflop, device, f"fused by {AUTO_SIZE} on cuda ({gflop:.3g} GFLOP per update; "
                        "small models leave a GPU idle)")
    if gflop < CPU_GFLOP:
        return Decision(AUTO_SIZE, gflop, device, f"fused by {AUTO_SIZE}: {gflop:.3g} GFLOP per update < "
                        f"{CPU_GFLOP:g} on {device}, where fusing pays")
    return Decision(1, gflop, device, f"alone: {gflop:.3g} GFLOP per update >= {CPU_GFLOP:g} on {device}, "
                    "where fusing does not pay")
