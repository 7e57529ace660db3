"""The report's figures, after the paper's: IS/FID per setting (Figs. 1-2), time per 100 updates (Fig. 10),
and sample grids. One colour per regularizer in every figure."""
from __future__ import annotations

import re

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are written, not shown
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .comparisons import regularizers_of  # noqa: E402
from .stats import median_ci  # noqa: E402


def colours(regularizers: list[str]) -> dict[str, tuple]:
    """One colour per regularizer for the whole report, every figure alike."""
    cmap = plt.get_cmap("tab10" if len(regularizers) <= 10 else "tab20")
    return {r: cmap(i % cmap.N) for i, r in enumerate(regularizers)}


def grouped_dots(df: pd.DataFrame, value: str, *, ylabel: str, title: str, path: Path,
                 colour_of: dict[str, tuple], log_y: bool = False, threshold: float | None = None) -> Path:
    """Per setting and regularizer: every run as a dot, the median as a bar across them and its
    order-statistic interval as a whisker (with 3-10 seeds the reader should see the runs, not a mean). A run
    that diverged is an x at the top; a cell whose runs all failed is labelled. ``threshold``: the success
    line (FID)."""
    regs = [str(r) for r in df["regularizer"].cat.categories if (df["regularizer"] == r).any()]
    settings = sorted(df["setting"].unique())
    width = 0.8 / max(1, len(regs))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(settings) + 4), 4.2))
    ok = df[(df["status"] == "ok") & df[value].notna()]
    top = float(ok[value].max()) * (1.6 if log_y else 1.08) if len(ok) else 1.0
    rng = np.random.default_rng(0)  # the same jitter in every report
    for j, reg in enumerate(regs):
        for i, setting in enumerate(settings):
            x = i + (j - (len(regs) - 1) / 2) * width
            runs = df[(df["regularizer"] == reg) & (df["setting"] == setting)]
            if runs.empty:
                continue
            vals = runs.loc[(runs["status"] == "ok"), value].dropna().astype(float).to_numpy()
            diverged = int((runs["status"] == "diverged").sum())
            jitter = (rng.random(len(vals)) - 0.5) * width * 0.5
            ax.scatter(x + jitter, vals, s=9, color=colour_of[reg], alpha=0.75, edgecolors="none", zorder=3)
            if diverged:
                ax.scatter([x] * diverged, [top] * diverged, marker="x", s=14, color=colour_of[reg], zorder=3)
            summary = np.concatenate([vals, np.full(diverged, np.inf)]) if value == "fid" else vals
            if len(summary):
                median, low, high, _ = median_ci(summary)
                if np.isfinite(median):
                    ax.plot([x - width * 0.4, x + width * 0.4], [median, median], color="0.15", lw=1.4, zorder=4)
                if np.isfinite(low):
                    ax.plot([x, x], [low, min(high, top)], color=colour_of[reg], lw=0.9, alpha=0.8, zorder=2)
            elif len(runs):
                ax.text(x, ax.get_ylim()[0], runs["status"].iloc[0], rotation=90, ha="center", va="bottom",
                        fontsize=7, color="0.3")
    if threshold is not None:
        ax.axhline(threshold, color="0.4", lw=0.8, ls="--", zorder=1)
        ax.text(len(settings) - 0.5, threshold, f" trained below {threshold:g}", fontsize=7, color="0.3",
                va="bottom", ha="right")
    if log_y:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlim(-0.5, len(settings) - 0.5)  # room for every slot, drawn or marked
    ax.set_xticks(np.arange(len(settings)))
    ax.set_xticklabels(_setting_labels(df, settings))
    ax.set_xlabel("setting (lr, beta1, beta2, n_dis)")
    ax.set_ylabel(ylabel)
    ax.set_title(title + " (dots: runs; bar: median; line: its interval; x: diverged)", fontsize=10)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colour_of[r], label=r) for r in regs]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3, which="both" if log_y else "major")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def precision_recall(df: pd.DataFrame, *, path: Path, colour_of: dict[str, tuple], k: str) -> Path | None:
    """One panel per setting, one dot per finished run at (recall, precision) (Kynkaanniemi et al. 2019):
    a generator collapsed to a few good samples sits top left (precise, no coverage), a blurry one that
    covers the data bottom right; FID alone cannot tell them apart. None when no run recorded them."""
    scored = df[(df["status"] == "ok") & df["precision"].notna() & df["recall"].notna()]
    if scored.empty:
        return None
    settings, regs = sorted(df["setting"].unique()), regularizers_of(df)
    cols = min(3, len(settings))
    rows = -(-len(settings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols + 1.6, 3.0 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # runs at exactly 0 (collapsed) would hide each other: a little jitter
    for ax, setting in zip(axes.flat, settings):
        here = scored[scored["setting"] == setting]
        for reg in regs:
            runs = here[here["regularizer"] == reg]
            jitter = (rng.random((2, len(runs))) - 0.5) * 0.015
            ax.scatter(runs["recall"].astype(float) + jitter[0], runs["precision"].astype(float) + jitter[1],
                       s=14, color=colour_of[reg], alpha=0.75, edgecolors="none")
        left = int(((df["setting"] == setting) & (df["status"] != "ok")).sum())
        ax.set_title(_setting_labels(df, [setting])[0].replace("\n", " ")
                     + (f"\n{left} run{'s' if left > 1 else ''} without a score" if left else ""), fontsize=8)
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    for i, ax in enumerate(axes.flat):
        if i >= len(settings):
            ax.axis("off")
        elif i + cols >= len(settings):  # the lowest panel of its column
            ax.set_xlabel("recall (coverage)")
    for ax in axes[:, 0]:
        ax.set_ylabel("precision (quality)")
    handles = [plt.Line2D([], [], marker="o", ls="", color=colour_of[r], label=r) for r in regs]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.99, 0.5), fontsize=8, frameon=False)
    fig.suptitle(f"Precision and recall per setting, one dot per run ({k})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _setting_labels(df: pd.DataFrame, settings: list[str]) -> list[str]:
    labels = []
    for s in settings:
        row = df[df["setting"] == s].iloc[0]
        labels.append(f"{s}\n({row['lr']:g}, {row['beta1']:g}, {row['beta2']:g}, {int(row['n_dis'])})")
    return labels


def samples_per_regularizer(images: dict[str, tuple[str, np.ndarray | None]], *, path: Path,
                            per_side: int = 8, columns: int = 4) -> Path:
    """A panel of samples per regularizer, from the run named beside it (its best-FID run)."""
    rows = int(np.ceil(len(images) / columns))
    cols = min(columns, len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.8 * rows), squeeze=False)
    for ax, (reg, (setting, imgs)) in zip(axes.flat, images.items()):
        ax.set_xticks([]), ax.set_yticks([])
        if imgs is None:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        else:
            ax.imshow(_tile(imgs[: per_side * per_side], per_side), cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
        ax.set_title(f"{reg}\n(setting {setting})", fontsize=9)
    for ax in axes.flat[len(images):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def sample_grid(images: dict[tuple[str, str], np.ndarray | None], *, regs: list[str], settings: list[str],
                path: Path, per_side: int = 8) -> Path:
    """Rows: regularizers; columns: settings; each cell a per_side x per_side grid of samples."""
    fig, axes = plt.subplots(len(regs), len(settings), figsize=(1.9 * len(settings) + 1.4, 1.9 * len(regs)),
                             squeeze=False)
    for i, reg in enumerate(regs):
        for j, setting in enumerate(settings):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            imgs = images.get((reg, setting))
            if imgs is None:
                ax.text(0.5, 0.5, "no samples", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            else:
                ax.imshow(_tile(imgs[: per_side * per_side], per_side), cmap="gray", vmin=0, vmax=255,
                          interpolation="nearest")
            if i == 0:
                ax.set_title(f"setting {setting}", fontsize=9)
            if j == 0:
                ax.set_ylabel(reg, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _tile(images: np.ndarray, per_side: int) -> np.ndarray:
    """(N, C, H, W) uint8 -> one (rows*H, cols*W[, 3]) image with 1-px gaps."""
    n, c, h, w = images.shape
    rows = int(np.ceil(n / per_side))
    canvas = np.full((rows * (h + 1) - 1, per_side * (w + 1) - 1, c), 128, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, per_side)
        canvas[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = images[k].transpose(1, 2, 0)
    return canvas[..., 0] if c == 1 else canvas


def representative_runs(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Per regularizer, the run its training curves are drawn from: its best-FID ok run, else its first."""
    out = {}
    for reg, runs in df.groupby("regularizer", observed=True, sort=True):
        ok = runs[(runs["status"] == "ok") & runs["fid"].notna()]
        out[str(reg)] = ok.loc[ok["fid"].idxmin()] if len(ok) else runs.iloc[0]
    return out


def curves(runs: dict[str, pd.Series], panels: list[tuple[str, object, str, str]], *, path: Path,
           colour_of: dict[str, tuple], log_y: bool = False) -> Path | None:
    """Side-by-side panels, each ``(x_key, y_fn, ylabel, title)``, one line per regularizer from its run's
    history; panels no run recorded are left out, and None when none is left."""
    def has(hist, x_key):
        return isinstance(hist, dict) and bool(hist.get(x_key))

    panels = [p for p in panels if any(has(row.get("history"), p[0]) for row in runs.values())]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 1.8, 3.8), squeeze=False)
    for ax, (x_key, y_fn, ylabel, title) in zip(axes[0], panels):
        for reg, row in runs.items():
            hist = row.get("history")
            if not has(hist, x_key):
                continue
            ys = [np.nan if y is None else y for y in y_fn(hist)]
            ax.plot(hist[x_key], ys, marker="o" if len(ys) < 15 else None, ms=3,
                    label=f"{reg} ({row['setting']})", color=colour_of[reg])
        ax.set_xlabel("generator updates")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    legend = {}  # every regularizer drawn in any panel, once
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    axes[0][-1].legend(list(legend.values()), list(legend), loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def spectral_norms(runs: dict[str, pd.Series], *, path: Path) -> Path | None:
    """The paper's figure of per-layer spectral norms over training: a panel per regularizer."""
    rows = [(reg, row) for reg, row in runs.items()
            if isinstance(row.get("history"), dict) and row["history"].get("sn")]
    if not rows:
        return None
    cols = min(4, len(rows))
    nrows = int(np.ceil(len(rows) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False, sharex=True)
    for ax, (reg, row) in zip(axes.flat, rows):
        hist = row["history"]
        values = np.array(hist["sn"])
        cmap = plt.get_cmap("viridis")
        n_layers = len(hist["sn_layers"])
        for j in range(n_layers):  # by position: layer names differ where a regularizer inserts modules
            ax.plot(hist["sn_step"], values[:, j], color=cmap(j / max(1, n_layers - 1)), label=f"L{j + 1}", lw=1.2)
        ax.set_title(f"{reg} ({row['setting']})", fontsize=9)
        ax.set_yscale("log")
        plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")  # 1.05, not 1.05 x 10^0
        ax.yaxis.set_major_formatter(plain)
        low, high = ax.get_ylim()
        # within a decade the minor ticks are the only labels; across several they would crowd the axis
        ax.yaxis.set_minor_formatter(plain if high / low < 10 else ticker.NullFormatter())
        ax.tick_params(axis="y", which="both", labelsize=7)
        ax.grid(alpha=0.3)
    for i, ax in enumerate(axes.flat):
        if i >= len(rows):
            ax.axis("off")
        elif i + cols >= len(rows):  # no panel below: this one carries the x axis
            ax.set_xlabel("generator updates")
            ax.tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("largest singular value")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)), fontsize=7, frameon=False,
               title="D layer, from input (L1) to output", title_fontsize=8)
    fig.tight_layout(rect=(0, 0.55 / fig.get_figheight(), 1, 1))  # a fixed strip for the legend
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def pairwise_heatmaps(pairs: pd.DataFrame, regs: list[str], *, path: Path) -> Path | None:
    """One panel per setting: P(row's FID < column's FID) over seed pairs; a bold number is a pair the exact
    test separates (Holm-adjusted p <= 0.05 over the setting's pairs), a grey one is not separated."""
    settings = sorted(pairs["setting"].unique())
    if not settings:
        return None
    cols = min(3, len(settings))
    rows = int(np.ceil(len(settings) / cols))
    n = len(regs)
    side = 0.42 * n + 1.6
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols + 2.2, side * rows + 0.6), squeeze=False,
                             constrained_layout=True)
    cmap = plt.get_cmap("RdBu")
    for index, (ax, setting) in enumerate(zip(axes.flat, settings)):
        here = pairs[pairs["setting"] == setting].set_index(["a", "b"])
        grid = np.full((n, n), np.nan)
        for i, a in enumerate(regs):
            for j, b in enumerate(regs):
                if (a, b) in here.index:
                    grid[i, j] = here.loc[(a, b), "p_a_better"]
        image = ax.imshow(grid, cmap=cmap, vmin=0, vmax=1)
        for i, a in enumerate(regs):
            for j, b in enumerate(regs):
                if (a, b) not in here.index:
                    continue
                row = here.loc[(a, b)]
                beyond = bool(row["separated"])
                ax.text(j, i, f"{row['p_a_better']:.2f}", ha="center", va="center",
                        fontsize=6.5, fontweight="bold" if beyond else "normal",
                        color=("white" if abs(row["p_a_better"] - 0.5) > 0.35 else "black") if beyond else "0.45")
        ax.set_xticks(range(n)), ax.set_yticks(range(n))
        ax.set_xticklabels(regs, rotation=60, ha="right", fontsize=7)
        ax.set_yticklabels(regs if index % cols == 0 else [], fontsize=7)  # the rows are the same in every panel
        ax.set_title(f"setting {setting}", fontsize=9)
    for ax in axes.flat[len(settings):]:
        ax.axis("off")
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="P(row's FID < column's FID)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def budget_curves(budget: pd.DataFrame, *, path: Path, colour_of: dict[str, tuple]) -> Path | None:
    """Expected best FID against the number of settings tried, a line per regularizer with its 95% band."""
    if budget.empty or budget["expected_best_fid"].isna().all():
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for reg, rows in budget.groupby("regularizer", sort=False):
        rows = rows.sort_values("k")
        ax.plot(rows["k"], rows["expected_best_fid"], marker="o", ms=3, label=reg, color=colour_of[reg])
        if rows["ci_low"].notna().any():
            ax.fill_between(rows["k"], rows["ci_low"], rows["ci_high"], color=colour_of[reg], alpha=0.15, lw=0)
    ax.set_xlabel("settings tried (chosen at random)")
    ax.set_ylabel("expected best FID, lower is better")
    ax.set_title("Tuning budget (cf. Kurach et al. 2019)")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


SWEPT = ("lr", "beta1", "beta2", "n_dis")


def swept_axes(df: pd.DataFrame) -> list[str]:
    """The optimizer values the settings vary, most distinct values first."""
    first = df.drop_duplicates("setting")
    counts = {axis: first[axis].nunique() for axis in SWEPT}
    return [a for a in sorted(SWEPT, key=lambda a: -counts[a]) if counts[a] > 1]


def swept_scatter(df: pd.DataFrame, value: str, *, ylabel: str, title: str, path: Path, log_y: bool) -> Path:
    """For many settings (a grid or a random search): a panel per regularizer, each setting's median over seeds
    against the most varied optimizer value (lr on a log axis), coloured by the next one. A setting whose
    runs all diverged or failed is an x at the top of its panel."""
    axes_swept = swept_axes(df) or ["lr"]
    x_axis, colour_axis = axes_swept[0], (axes_swept[1] if len(axes_swept) > 1 else None)
    regs = regularizers_of(df)
    cols = min(4, len(regs))
    rows = int(np.ceil(len(regs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 1.2, 2.9 * rows + 0.6), squeeze=False,
                             sharex=True, sharey=True, constrained_layout=True)
    colour_values = sorted(df[colour_axis].unique()) if colour_axis else [None]
    cmap = plt.get_cmap("viridis")
    colour = {v: cmap(i / max(1, len(colour_values) - 1)) for i, v in enumerate(colour_values)}
    ok = df[df["status"] == "ok"]
    means = ok.groupby(["regularizer", "setting"], observed=True)[value].median()
    top = float(means.max()) if len(means) else 1.0
    for ax, reg in zip(axes.flat, regs):
        settings = df[df["regularizer"] == reg].drop_duplicates("setting").set_index("setting")
        for setting, row in settings.iterrows():
            c = colour[row[colour_axis]] if colour_axis else "C0"
            if (reg, setting) in means.index and pd.notna(means[(reg, setting)]):
                ax.scatter(row[x_axis], means[(reg, setting)], color=c, s=18, edgecolors="none")
            else:
                ax.scatter(row[x_axis], top, marker="x", color=c, s=22)
        ax.set_title(reg, fontsize=9)
        ax.grid(alpha=0.3)
        if x_axis == "lr":
            ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # 60, not 6 x 10^1
            ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.tick_params(axis="y", which="minor", labelsize=6)
    for ax in axes.flat[len(regs):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(x_axis)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    if colour_axis:
        handles = [plt.Line2D([], [], marker="o", ls="", color=colour[v], label=f"{v:g}") for v in colour_values]
        fig.legend(handles=handles, title=colour_axis, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(title + " (x: every run diverged or failed)", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def critical_difference(cd: dict, *, path: Path, colour_of: dict[str, tuple]) -> Path:
    """Demsar's diagram (scikit-posthocs): each regularizer at its mean rank over settings (1 = lowest median
    FID), a bar joining those the Nemenyi test does not separate."""
    import scikit_posthocs as sp

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(cd["ranks"]) + 1.6))
    # scikit-posthocs draws each bar's points in the order of a Python set of the labels, which for strings
    # changes from process to process (hash randomization), and so did the PNG's pixels: drawn with integer
    # labels (a set of small ints iterates in value order), then the names put back into the texts
    names = list(cd["ranks"].index)
    code = {name: i for i, name in enumerate(names)}
    sp.critical_difference_diagram(cd["ranks"].rename(index=code), cd["nemenyi"].rename(index=code, columns=code),
                                   ax=ax, label_props={"fontsize": 8},
                                   color_palette={code[r]: colour_of[r] for r in names},
                                   label_fmt_left="<{label}> ({rank:.2g})", label_fmt_right="({rank:.2g}) <{label}>")
    for text in ax.texts:
        text.set_text(re.sub(r"<(\d+)>", lambda m: names[int(m.group(1))], text.get_text()))
    ax.set_title(f"Mean rank over {len(cd['medians'])} settings by median FID (Friedman p = {cd['friedman_p']:.2g}; "
                 "bars: not separated by Nemenyi at 0.05)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
