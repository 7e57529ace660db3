"""The generator's latent distribution: what z is drawn from, in training and when sampling images."""
from __future__ import annotations

import torch

# name -> (n, dim, device, generator) -> z. normal: the paper's z ~ N(0, I) (Table 3); uniform: U(-1, 1), what
# the authors' public SN-DCGAN code (chainer-gan-lib's DCGANGenerator) draws by default
LATENTS = {
    "normal": lambda n, dim, device, generator: torch.randn(n, dim, device=device, generator=generator),
    "uniform": lambda n, dim, device, generator: torch.rand(n, dim, device=device, generator=generator) * 2 - 1,
}


def sample_latent(kind: str, n: int, dim: int, *, device, generator: torch.Generator | None = None) -> torch.Tensor:
    return LATENTS[kind](n, dim, device, generator)
