"""report.md (and its tables/ and figures/) from one results folder."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..store import read_real_data, read_results, read_samples
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
    best_md = _write_table(best_table(df, extractor, read_real_data(results_dir)), tables_dir, "best")
    is_fig = figures.grouped_bars(df, "inception_score_mean", ylabel=f"Inception Score ({extractor}), higher is better",
                                  title="IS per setting (cf. Miyato et al. 2018, Fig. 1)",
                                  path=fig_dir / "is_per_setting.png")
    fid_fig = figures.grouped_bars(df, "fid", ylabel=f"FID ({extractor}), lower is better",
                                   title="FID per setting (cf. Fig. 2)", path=fig_dir / "fid_per_setting.png")
    time_fig = figures.grouped_bars(df, "sec_per_100_updates", ylabel="seconds per 100 generator updates",
                                    title="Training time (cf. Fig. 10)", path=fig_dir / "time_per_100_updates.png")
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
