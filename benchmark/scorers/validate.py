"""Is a scorer an instrument? The checks a new dataset's feature extractor passes before its scores are used.

After the tests of Heusel et al. (2017, FID under noise, blur, salt-and-pepper) and Kynkaanniemi et al. (2019,
precision and recall under truncation of the data): FID of the held-out split near the floor (two disjoint
halves of the reference split), FID rising with each corruption's strength, and under class dropping FID rising,
IS falling, recall falling while precision holds (the fewer classes are real images still).

    python -m benchmark.scorers validate fashion-cnn --out docs/instruments   # table (csv, md) and figure
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch
import torchvision.transforms.functional as TF

from ..data import load_images
from ..metrics import Scorer
from ..schema import Evaluation
from . import SCORERS

# five strengths each, in units of the [0, 1] pixel range (noise sd, salt-and-pepper fraction) or pixels (blur sd)
CORRUPTIONS = {"gaussian noise": (0.05, 0.1, 0.2, 0.3, 0.5), "gaussian blur": (0.5, 0.75, 1.0, 1.5, 2.0),
               "salt and pepper": (0.02, 0.05, 0.1, 0.2, 0.4)}
CLASS_COUNTS = (10, 5, 2, 1)


@dataclass(frozen=True)
class Sizes:
    """How many images: the reference (from the train split), and each evaluated set (from the test split)."""
    reference: int
    evaluated: int


# digits: three quarters of the train split, so that its last quarter (359, the test split's size) gives the floor;
# Fashion-MNIST: 10,000 and 5,000, as its suites score runs
SIZES = {"digits-cnn": Sizes(reference=1079, evaluated=359), "fashion-cnn": Sizes(reference=10000, evaluated=5000)}


def corrupt(images: torch.Tensor, kind: str, strength: float, seed: int = 0) -> torch.Tensor:
    """uint8 images with one corruption applied (seeded)."""
    g = torch.Generator().manual_seed(seed)
    x = images.float() / 255.0
    if kind == "gaussian noise":
        x = x + strength * torch.randn(x.shape, generator=g)
    elif kind == "gaussian blur":
        k = min(2 * math.ceil(3 * strength) + 1, 2 * min(x.shape[-2:]) - 1)  # reflect padding needs k < 2 x side
        x = TF.gaussian_blur(x, kernel_size=[k, k], sigma=[strength, strength])
    elif kind == "salt and pepper":
        hit = torch.rand(x.shape, generator=g) < strength
        x = torch.where(hit, (torch.rand(x.shape, generator=g) < 0.5).float(), x)
    else:
        raise ValueError(f"unknown corruption {kind!r}; known: {', '.join(CORRUPTIONS)}")
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def keep_classes(images: torch.Tensor, labels: torch.Tensor, k: int, n: int, seed: int = 0) -> torch.Tensor:
    """n images of the first k classes, drawn with replacement (so every k gives n images: mode dropping at a
    fixed sample count)."""
    pool = images[labels < k]
    idx = torch.randint(len(pool), (n,), generator=torch.Generator().manual_seed(seed))
    return pool[idx]


def validate(name: str, *, sizes: Sizes | None = None, data_root: str | None = None) -> pd.DataFrame:
    """One row per evaluated set: check, strength, FID, IS, precision, recall (KID where computed)."""
    spec = SCORERS[name]
    sizes = sizes or SIZES[name]
    size = spec.size
    evaluation = Evaluation(is_samples=sizes.evaluated, is_splits=10, fid_real_split="train",
                            fid_real=sizes.reference, fid_fake=sizes.evaluated, kid_subsets=20)
    scorer = Scorer(dataset=spec.dataset, image_size=size, evaluation=evaluation, data_root=data_root)
    test_images = load_images(spec.dataset, split="test", size=size, root=data_root)
    _, test_labels = spec.split_fn("test")
    order = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(1))
    held_out = test_images[order][: sizes.evaluated]
    rows = []

    def add(check: str, strength, images: torch.Tensor, kid: bool = False):
        rows.append({"check": check, "strength": strength, **scorer.score(images, kid=kid)})

    # the floor: two disjoint sets of the train split (the reference's own distribution)
    train = load_images(spec.dataset, split="train", size=size, root=data_root)
    reference_ids = set(torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[: sizes.reference].tolist())
    rest = torch.tensor([i for i in range(len(train)) if i not in reference_ids])
    if len(rest) >= sizes.evaluated:
        add("floor: train vs train", 0, train[rest[: sizes.evaluated]], kid=True)
    add("held-out split", 0, held_out, kid=True)
    for kind, strengths in CORRUPTIONS.items():
        for s in strengths:
            add(kind, s, corrupt(held_out, kind, s))
    for k in CLASS_COUNTS:
        add("classes kept", k, keep_classes(test_images, test_labels, k, sizes.evaluated), kid=True)
    out = pd.DataFrame(rows)
    out.insert(0, "scorer", name)
    out.attrs["weights"] = scorer.weights_hash
    return out


def verdicts(table: pd.DataFrame) -> dict[str, bool]:
    """The instrument's checks, each a yes/no over the table (what the tests and docs/protocol.md state)."""
    def fids(check):
        return table[table["check"] == check].sort_values("strength")["fid"].tolist()

    held = table[table["check"] == "held-out split"].iloc[0]
    clean = held["fid"]
    out = {}
    floor = table[table["check"] == "floor: train vs train"]
    if len(floor):
        out["held-out FID within 2x the floor (+1)"] = clean <= 2 * floor["fid"].iloc[0] + 1
    for kind in CORRUPTIONS:
        seq = [clean, *fids(kind)]
        out[f"FID rises with {kind}"] = all(a < b for a, b in zip(seq, seq[1:]))
    drop = table[table["check"] == "classes kept"].sort_values("strength", ascending=False)
    out["FID rises as classes drop"] = all(a < b for a, b in zip(drop["fid"], drop["fid"][1:]))
    out["IS falls as classes drop"] = all(a > b for a, b in zip(drop["inception_score_mean"],
                                                                drop["inception_score_mean"][1:]))
    out["recall falls as classes drop"] = all(a > b for a, b in zip(drop["recall"], drop["recall"][1:]))
    out["precision holds (>= 0.9x the held-out split's) as classes drop"] = bool(
        (drop["precision"] >= 0.9 * held["precision"]).all())
    return out


def figure(tables: list[pd.DataFrame], path) -> None:
    """FID against each corruption's strength and under class dropping (IS, precision, recall beside), one
    row of panels per scorer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 4, figsize=(15, 3.3 * len(tables)), squeeze=False)
    for row, table in zip(axes, tables):
        name = table["scorer"].iloc[0]
        clean = table[table["check"] == "held-out split"].iloc[0]
        floor = table[table["check"] == "floor: train vs train"]
        for ax, kind in zip(row[:3], CORRUPTIONS):
            part = table[table["check"] == kind]
            ax.plot([0, *part["strength"]], [clean["fid"], *part["fid"]], "o-", color="C0")
            if len(floor):
                ax.axhline(floor["fid"].iloc[0], color="grey", ls=":", label="floor (train vs train)")
                ax.legend(fontsize=7)
            ax.set(title=f"{name}: {kind}", xlabel="strength", ylabel="FID")
        drop = table[table["check"] == "classes kept"].sort_values("strength", ascending=False)
        ax = row[3]
        x = range(len(drop))
        ax.plot(x, drop["fid"], "o-", color="C0", label="FID")
        ax.set(title=f"{name}: classes kept", xticks=list(x), xticklabels=[f"{k:g}" for k in drop["strength"]],
               ylabel="FID")
        twin = ax.twinx()
        twin.plot(x, drop["inception_score_mean"] / drop["inception_score_mean"].max(), "s--", color="C1",
                  label="IS / max")
        twin.plot(x, drop["precision"], "^--", color="C2", label="precision")
        twin.plot(x, drop["recall"], "v--", color="C3", label="recall")
        twin.set(ylim=(0, 1.05))
        lines = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(lines, [l.get_label() for l in lines], fontsize=7, loc="center left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def summary(tables: list[pd.DataFrame], accuracies: dict[str, float]) -> str:
    """The scorers side by side, one markdown row per check (docs/protocol.md quotes it)."""
    def row(label, cells):
        return f"| {label} | " + " | ".join(cells) + " |"

    def at(t, check, column, strengths=None):
        part = t[t["check"] == check]
        if strengths is not None:
            part = part.set_index("strength").loc[list(strengths)].reset_index()
        return " / ".join(_fmt(v) for v in part[column])

    names = [t["scorer"].iloc[0] for t in tables]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
             row("test accuracy", [f"{accuracies[n]:.4f}" for n in names]),
             row("floor (train vs train) / held-out FID",
                 [f"{at(t, 'floor: train vs train', 'fid')} / {at(t, 'held-out split', 'fid')}" for t in tables])]
    for kind in CORRUPTIONS:
        ends = (CORRUPTIONS[kind][0], CORRUPTIONS[kind][-1])
        lines.append(row(f"FID at the mildest / strongest {kind.replace('gaussian ', '')}",
                         [at(t, kind, "fid", ends) for t in tables]))
    for column, label in (("fid", "FID"), ("inception_score_mean", "IS"), ("recall", "recall")):
        lines.append(row(f"{label} with 10 / 5 / 2 / 1 classes",
                         [at(t, "classes kept", column, CLASS_COUNTS) for t in tables]))
    lines.append(row("precision with 10 / 1 classes", [at(t, "classes kept", "precision", (10, 1)) for t in tables]))
    return "\n".join(lines) + "\n"
