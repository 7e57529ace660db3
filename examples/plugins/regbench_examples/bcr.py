"""Balanced consistency regularization (Zhao, Singh, Lee, Zhang, Odena and Zhang, "Improved Consistency
Regularization for GANs", AAAI 2021): D's output should not change under a semantics-preserving augmentation
T, on real images (as in CR, Zhang et al. 2020) and on generated ones:

    lambda_real * E||D(x) - D(T(x))||^2 + lambda_fake * E||D(G(z)) - D(T(G(z)))||^2, added to D's loss only.

lambda_real = lambda_fake = 10 are the paper's. T is CR's: a horizontal flip with probability 1/2 and a
translation of up to 1/8 of the side (4 pixels at 32x32), here with reflected borders. D(x) and D(G(z)) are
the outputs the D step already computed (d_real, d_fake), so the penalty costs two forwards, not four.
"""
import torch

from benchmark.regularizers import Regularizer

from .diffaugment import translation  # the same shift, with reflected borders


def flip_and_translate(x):
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return translation(torch.where(flip, x.flip(3), x), mode="reflect")


class BalancedConsistency(Regularizer):
    defaults = {"lambda_real": 10.0, "lambda_fake": 10.0}
    batched = frozenset({"penalty"})  # fused runs: per-sample terms, and T draws one flip and shift per image

    def penalty(self, *, discriminator, real, fake, d_real, d_fake):
        with torch.no_grad():  # T needs no gradient: D is what the penalty trains
            real_t, fake_t = flip_and_translate(real), flip_and_translate(fake)
        on_real = (discriminator(real_t).float() - d_real).pow(2).mean()
        on_fake = (discriminator(fake_t).float() - d_fake).pow(2).mean()
        return self.lambda_real * on_real + self.lambda_fake * on_fake
