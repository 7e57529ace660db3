"""WGAN-GP (Gulrajani et al. 2017): Wasserstein loss + lambda (||grad D(x_hat)|| - 1)^2."""
import torch
from torch import nn

from . import register_regularizer
from .base import Regularizer


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(||grad_x D(x)||_2 - 1)^2] at random points between real and fake samples."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    out = discriminator(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


@register_regularizer("wgan_gp")
class WGANGP(Regularizer):
    defaults = {"gp_lambda": 10.0}
    loss = "wasserstein"
    batched = frozenset({"penalty"})  # a mean of per-sample terms, each from its own member's D

    def penalty(self, *, discriminator, real, fake):
        return self.gp_lambda * gradient_penalty(discriminator, real, fake)
