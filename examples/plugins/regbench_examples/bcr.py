"""Balanced consistency regularization (Zhao, Singh, Lee, Zhang, Odena and Zhang, "Improved Consistency
Regularization for GANs", AAAI 2021): D's output should not change under a semantics-preserving augmentation
T, on real images (as in CR, Zhang et al. 2020) and on generated ones:

    lambda_real * E||D(x) - D(T(x))||^2 + lambda_fake * E||D(G(z)) - D(T(G(z)))||^2, added to D's loss only.

lambda_real = lambda_fake = 10 are the paper's. T is CR's: a horizontal flip with probability 1/2 and a
translation of up to 1/8 of the side (4 pixels at 32x32), here with reflected borders. D(x) and D(G(z)) are
the outputs the D step already computed (d_real, d_fake), so the penalty costs two forwards, not four.
"""
import torch
import torch.nn.functional as F

from benchmark.regularizers import Regularizer


def flip_and_translate(x, ratio=0.125):
    n, _, h, w = x.shape
    flip = torch.rand(n, 1, 1, 1, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x)
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    rows = torch.arange(h, device=x.device).view(1, h, 1) + torch.randint(0, 2 * sh + 1, (n, 1, 1), device=x.device)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + torch.randint(0, 2 * sw + 1, (n, 1, 1), device=x.device)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return F.pad(x, (sw, sw, sh, sh), mode="reflect").permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


class BalancedConsistency(Regularizer):
    defaults = {"lambda_real": 10.0, "lambda_fake": 10.0}

    def penalty(self, *, discriminator, real, fake, d_real, d_fake):
        with torch.no_grad():  # T needs no gradient: D is what the penalty trains
            real_t, fake_t = flip_and_translate(real), flip_and_translate(fake)
        on_real = (discriminator(real_t).float() - d_real).pow(2).mean()
        on_fake = (discriminator(fake_t).float() - d_fake).pow(2).mean()
        return self.lambda_real * on_real + self.lambda_fake * on_fake
