"""DiffAugment (Zhao, Liu, Lin, Zhu and Han, "Differentiable Augmentation for Data-Efficient GAN Training",
NeurIPS 2020): one random, differentiable augmentation T applied to every image D sees, real and fake, in D's
step and in G's, so D cannot overfit the few real images it has and G's gradient flows back through T.

The policies and their constants are the paper's (its DiffAugment_pytorch.py): `color` (brightness +-0.5,
saturation x[0, 2], contrast x[0.5, 1.5]), `translation` (up to 1/8 of the side, zero fill) and `cutout` (a
zeroed square of half the side). `color,translation,cutout` is the paper's choice for CIFAR-10.
"""
import torch
import torch.nn.functional as F

from benchmark.regularizers import BadHyperparameter, Regularizer


def _uniform(x, low, high):  # one draw per image
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * (high - low) + low


def color(x):
    x = x + _uniform(x, -0.5, 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * _uniform(x, 0.0, 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, 0.5, 1.5) + mean


def translation(x, ratio=0.125, mode="constant"):  # mode: how the border fills in (F.pad's; zeros here)
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # a gather from the zero-padded image: indexing keeps the gradient to every pixel that stays in view
    rows = torch.arange(h, device=x.device).view(1, h, 1) + torch.randint(0, 2 * sh + 1, (n, 1, 1), device=x.device)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + torch.randint(0, 2 * sw + 1, (n, 1, 1), device=x.device)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return F.pad(x, (sw, sw, sh, sh), mode=mode).permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x, ratio=0.5):
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment(Regularizer):
    defaults = {"policy": "color,translation,cutout"}
    batched = frozenset({"augment"})  # fused runs: every draw is one per image, so the whole group at once

    @classmethod
    def resolve_params(cls, params):
        out = super().resolve_params(params)
        unknown = [p for p in out["policy"].split(",") if p not in POLICIES]
        if unknown or not out["policy"]:
            raise BadHyperparameter(f"diffaugment.policy {out['policy']!r}: a comma-separated list of "
                                    f"{', '.join(POLICIES)}")
        return out

    def augment(self, images):
        for name in self.policy.split(","):
            images = POLICIES[name](images)
        return images
