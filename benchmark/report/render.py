"""report.md (and its tables/ and figures/) from one results folder."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..store import read_real_data, read_results, read_samples
from .. import paper
from . import figures
from .tables import best_table, pivot, runs_frame, runs_table


class NoResults(ValueError):
    pass


def _md(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, disable_numparse=True)


def _write_table(df: pd.DataFrame, tables_dir: Path, name: str) -> str:
    df.to_csv(tables_dir / f"{name}.csv", index=False)
    text = _md(df)
    (tables_dir / f"{name}.md").write_text(text + "\n")
    return text


def _figure_lines(alt: str, path: Path | None, out_dir: Path) -> list[str]:
    return [f"![{alt}]({path.relative_to(out_dir)})", ""] if path is not None else []


def _sn_table(rep: dict) -> pd.DataFrame | None:
    rows = []
    for reg, row in rep.items():
        hist = row.get("history")
        if isinstance(hist, dict) and hist.get("sn"):
            rows.append({"regularizer": reg, "setting": row["setting"], "update": hist["sn_step"][-1],
                         **{f"L{j + 1}": f"{v:.3g}" for j, v in enumerate(hist["sn"][-1])}})
    return pd.DataFrame(rows) if rows else None


def write_report(results_dir: Path, *, out_dir: Path | None = None) -> Path:
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise NoResults(f"{results_dir} is not a folder of results (run `regbench run SUITE` first)")
    results = read_results(results_dir)
    if not results:
        raise NoResults(f"no result files (*.json) in {results_dir}")
    suite = results[0]["suite"]
    out_dir = Path(out_dir or Path("reports") / suite)
    fig_dir, tables_dir = out_dir / "figures", out_dir / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tables_dir.mkdir(parents=True, exist_ok=True)

    df = runs_frame(results)
    extractor = ", ".join(sorted({str(x) for x in df["feature_extractor"].dropna()})) or "n/a"
    regs, settings = [str(r) for r in df["regularizer"].cat.categories], sorted(df["setting"].unique())

    runs_md = _write_table(runs_table(df, extractor), tables_dir, "runs")
    dataset, architecture = results[0].get("dataset"), results[0].get("architecture")
    comparable = extractor.startswith("inception")  # the paper's numbers are Inception's
    published = paper.table2(dataset, architecture) if comparable else {}
    best = best_table(df, extractor, read_real_data(results_dir), published=published,
                      real_published=paper.real_data(dataset) if comparable else None)
    best_md = _write_table(best, tables_dir, "best")
    is_fig = figures.grouped_bars(df, "inception_score_mean", ylabel=f"Inception Score ({extractor}), higher is better",
                                  title="IS per setting (cf. Miyato et al. 2018, Fig. 1)",
                                  path=fig_dir / "is_per_setting.png")
    fid_fig = figures.grouped_bars(df, "fid", ylabel=f"FID ({extractor}), lower is better",
                                   title="FID per setting (cf. Fig. 2)", path=fig_dir / "fid_per_setting.png")
    time_fig = figures.grouped_bars(df, "sec_per_100_updates", ylabel="seconds per 100 generator updates",
                                    title="Training time (cf. Fig. 10)", path=fig_dir / "time_per_100_updates.png")
    colour_of = figures.colours(regs)
    rep = figures.representative_runs(df)
    fid_curve = figures.curves(
        rep, x_key="eval_step", y_fn=lambda h: [e.get("fid") for e in h["eval"]],
        ylabel=f"FID ({extractor}), lower is better", title="FID over training (smaller sample)",
        path=fig_dir / "fid_over_training.png", colour_of=colour_of)
    loss_curve = figures.curves(
        rep, x_key="step", y_fn=lambda h: h["d_loss"], ylabel="discriminator loss (mean over log interval)",
        title="Discriminator loss over training", path=fig_dir / "d_loss_over_training.png", colour_of=colour_of)
    sn_fig = figures.spectral_norms(rep, path=fig_dir / "spectral_norms.png")
    sn_table = _sn_table(rep)
    sn_md = _write_table(sn_table, tables_dir, "spectral_norms") if sn_table is not None else None
    samples = {}
    for _, row in df.iterrows():
        samples.setdefault((str(row["regularizer"]), row["setting"]), read_samples(results_dir, row["run_id"]))
    grid_fig = figures.sample_grid(samples, regs=regs, settings=settings, path=fig_dir / "samples.png")

    cost = pivot(df, "sec_per_100_updates").round(2).reset_index()
    cost_md = _write_table(cost.astype(str).replace("nan", "-"), tables_dir, "time")

    env = results[0].get("environment", {})
    counts = df["status"].value_counts().to_dict()
    lines = [
        f"# regbench report: `{suite}`",
        "",
        f"{len(df)} runs ({', '.join(f'{v} {k}' for k, v in counts.items())}) on `{results[0].get('dataset')}` "
        f"at {results[0].get('image_size')}px, {results[0].get('architecture')} (width {results[0].get('width')}), "
        f"{results[0].get('steps')} generator updates per run.",
        "",
        f"Scores use the feature extractor **{extractor}**"
        + (" (a digits classifier trained by regbench; not Inception, so not comparable with published IS/FID)."
           if "digits" in extractor else "."),
        "",
        "## Best result per regularizer",
        "",
        best_md,
        "",
        *(["Columns marked **paper** are Miyato et al. (2018), Table 2, for the same dataset, architecture "
           "and row; ours are from the result files above. They are comparable only under the same protocol "
           "(see each result's `protocol`)."] if published else []),
        "",
        "## Robustness across settings",
        "",
        f"![IS per setting]({is_fig.relative_to(out_dir)})",
        "",
        f"![FID per setting]({fid_fig.relative_to(out_dir)})",
        "",
        "## Cost",
        "",
        f"![time per 100 updates]({time_fig.relative_to(out_dir)})",
        "",
        "Seconds per 100 generator updates (training only, scoring excluded):",
        "",
        cost_md,
        "",
        "## Training",
        "",
        *_figure_lines("FID over training", fid_curve, out_dir),
        *_figure_lines("D loss over training", loss_curve, out_dir),
        *(["Largest singular value of each D layer's effective weight over training (cf. the paper's "
           "spectral-norm figure), for each regularizer's best-FID run:", "",
           *_figure_lines("spectral norms", sn_fig, out_dir),
           "At the end of training:", "", sn_md, ""] if sn_fig is not None else []),
        "## Samples",
        "",
        f"![samples]({grid_fig.relative_to(out_dir)})",
        "",
        "## All runs",
        "",
        runs_md,
        "",
        "## Environment",
        "",
        f"- device: {env.get('device')} ({env.get('device_name')}), threads {env.get('threads')}",
        f"- python {env.get('python')}, torch {env.get('torch')}, torch-fidelity {env.get('torch_fidelity')}",
        f"- platform: {env.get('platform')}",
        f"- report written {dt.datetime.now().isoformat(timespec='seconds')} from `{results_dir}`",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
