"""Gradient normalization (Wu, Shuai, Tam and Chiu, "Gradient Normalization for Generative Adversarial
Networks", ICCV 2021): D's output f(x) is replaced, in D's step and in G's, by

    f(x) / (||grad_x f(x)|| + |f(x)|),

which makes D piecewise 1-Lipschitz without constraining any layer, and bounds its output in (-1, 1). No
hyperparameters. The gradient is taken with create_graph, so each forward of D costs a double backward:
about three times a plain step.
"""
import torch

from benchmark.regularizers import Regularizer


class GradientNorm(Regularizer):
    defaults = {}
    batched = frozenset({"discriminate"})  # fused runs: per image, so the whole group in one call

    def discriminate(self, discriminator, images):
        x = images if images.requires_grad else images.detach().requires_grad_(True)
        f = discriminator(x)
        (grad,) = torch.autograd.grad(f.sum(), x, create_graph=True)  # per image: D scores images one by one
        norm = grad.flatten(1).norm(dim=1).view(-1, *[1] * (f.dim() - 1))
        return f / (norm + f.abs())
