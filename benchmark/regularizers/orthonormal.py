"""Orthonormal regularization (Brock et al. 2016): orthonormal init + coef * ||W^T W - I||_F^2.

W is a layer's weight as (out, in*kh*kw). The penalty is taken on the smaller
Gram matrix, so a semi-orthogonal W (what ``nn.init.orthogonal_`` gives for a
non-square matrix) has zero penalty, as the paper's init intends.
"""
import torch
from torch import nn

from . import register_regularizer
from .base import Regularizer, weight_layers


def orthonormal_penalty(weight: torch.Tensor) -> torch.Tensor:
    mat = weight.flatten(1)
    if mat.shape[0] > mat.shape[1]:
        mat = mat.t()
    gram = mat @ mat.t()
    eye = torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)
    return ((gram - eye) ** 2).sum()


@register_regularizer("orthonormal")
class Orthonormal(Regularizer):
    defaults = {"coef": 1e-4}

    def initialize(self, discriminator):
        for layer in weight_layers(discriminator):
            nn.init.orthogonal_(layer.weight)

    def penalty(self, *, discriminator, real, fake):
        return self.coef * sum(orthonormal_penalty(layer.weight) for layer in weight_layers(discriminator))
