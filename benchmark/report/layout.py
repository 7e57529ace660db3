"""The report's layout: the blocks (headings, text, tables, figures) of each comparison, in reading order."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from .. import paper
from .findings import check_findings, kid_verdicts
from .over_training import verdicts_over_training
from ..results import SuiteResults
from . import figures
from . import comparisons
from .comparisons import pairwise_table, regularizers_of, scores_table
from .document import Block, Bullets, Figure, Heading, Table, Text
from .stats import ALPHA
from .tables import (best_table, cost_table, timing_basis, interval, per_setting_table, runs_table, success_text,
                     top_settings_table)
from .sentences import (MANY_SETTINGS, in_short, instrument_text, machines_text, prc_k, recorded, statistics_text,
                        success_source, values)


def robustness_blocks(df: pd.DataFrame, *, extractor: str, prefix: str, fig, colour_of: dict,
                       threshold: float | None, scores: pd.DataFrame) -> list[Block]:
    """Scores per setting: every run as a dot beside its median, and regularizer x setting tables for a few
    settings; for a grid or a random search, a scatter over the swept values and each regularizer's best
    settings (every table in the CSVs); then success over all settings and the critical-difference diagram."""
    settings = sorted(df["setting"].unique())
    tables = [(f"Inception Score ({extractor})", "inception_score_mean", 2, "is_per_setting"),
              (f"FID ({extractor})", "fid", 2, "fid_per_setting"),
              (f"KID ({extractor}; torch-fidelity's unbiased MMD^2, unscaled)", "kid_mean", None, "kid_per_setting"),
              (f"Precision ({extractor}, {prc_k(df)}; the share of generated samples inside the real data's "
               "manifold, higher is better)", "precision", 2, "precision_per_setting"),
              (f"Recall ({extractor}, {prc_k(df)}; the share of real samples inside the generated manifold, "
               "higher is better)", "recall", 2, "recall_per_setting")]
    blocks: list[Block] = [Text("Each regularizer under every optimizer setting (the paper's Figures 1 and 2). A "
                                "setting where a run diverged or failed says so, in the figures and the tables.")]
    if len(settings) <= MANY_SETTINGS:
        blocks += [
            Table(settings_table(df), f"{prefix}settings"),
            Figure(figures.grouped_dots(df, "fid", ylabel=f"FID ({extractor}), lower is better",
                                        title="FID per setting (cf. Fig. 2)", path=fig("fid_per_setting"),
                                        colour_of=colour_of, log_y=True, threshold=threshold), "FID per setting"),
            Figure(figures.grouped_dots(df, "inception_score_mean", ylabel=f"Inception Score ({extractor}), higher "
                                        "is better", title="IS per setting (cf. Miyato et al. 2018, Fig. 1)",
                                        path=fig("is_per_setting"), colour_of=colour_of), "IS per setting")]
        pr = figures.precision_recall(df, path=fig("precision_recall"), colour_of=colour_of, k=prc_k(df))
        if pr is not None:
            blocks += [Text("Precision and recall (Kynkaanniemi et al. 2019, torch-fidelity's `prc`, on the FID's "
                            "features) separate what FID mixes: a generator collapsed onto a few good samples has "
                            "high precision and no recall, a blurry one that covers the data the reverse."),
                       Figure(pr, "precision and recall per setting")]
        for title, value, digits, name in tables:
            what = ("median over the runs [order-statistic interval] (runs that trained / runs)" if value == "fid"
                    else "median over the finished runs [order-statistic interval]")
            blocks += [Text(f"{title} per setting, {what}"
                            + (" (unbiased at small sample counts, where FID is biased upwards)" if value == "kid_mean"
                               else "") + ":"),
                       Table(per_setting_table(df, value, digits=digits, threshold=threshold), f"{prefix}{name}")]
    else:
        swept = figures.swept_axes(df)
        blocks += [
            Text(f"{len(settings)} settings, sweeping {', '.join(swept) or 'nothing'}: each panel is one regularizer, "
                 "each point a setting's median over its runs."),
            Figure(figures.swept_scatter(df, "fid", ylabel=f"FID ({extractor})", title="FID over the swept settings",
                                         path=fig("fid_per_setting"), log_y=True), "FID per setting"),
            Figure(figures.swept_scatter(df, "inception_score_mean", ylabel=f"IS ({extractor})",
                                         title="IS over the swept settings", path=fig("is_per_setting"), log_y=False),
                   "IS per setting"),
            Text("Each regularizer's three best settings by median FID [order-statistic interval] (every setting "
                 f"and score: `tables/{prefix}scores.csv`, `{prefix}fid_per_setting.csv`, ...):"),
            Table(top_settings_table(df, scores), f"{prefix}top_settings"),
            Table(settings_table(df), f"{prefix}settings", shown=False)]
        blocks += [Table(per_setting_table(df, value, digits=digits, threshold=threshold), f"{prefix}{name}",
                         shown=False) for _, value, digits, name in tables]
    return blocks + across_settings_blocks(df, prefix=prefix, fig=fig, threshold=threshold, colour_of=colour_of)


def across_settings_blocks(df: pd.DataFrame, *, prefix: str, fig, threshold: float | None,
                            colour_of: dict) -> list[Block]:
    robust = comparisons.robustness_table(df, threshold)
    shown = pd.DataFrame({
        "regularizer": robust["regularizer"],
        "trained": [f"{success_text(k, n)} = {interval(r, lo, hi, 2)}" for k, n, r, lo, hi in zip(
            robust["successes"], robust["runs"], robust["success_rate"], robust["success_low"], robust["success_high"])],
        "settings with a run that trained": [f"{a} of {b}" for a, b in zip(robust["settings_trained"], robust["settings"])]})
    where = f"below FID {threshold:g}" if threshold is not None else "that finished"
    blocks: list[Block] = [
        Text(f"Across all {df['setting'].nunique()} settings: the share of each regularizer's runs {where} "
             "[Wilson 95% interval], the paper's robustness claim as one number (runs at different settings are "
             "independent, so they pool):"),
        Table(shown, f"{prefix}success"), Table(robust, f"{prefix}success_long", shown=False)]
    if threshold is not None:
        blocks += [Text(f"How much the success counts hang on the threshold: the same at 0.75x and 1.5x "
                        f"{threshold:g} (FIDs do not split into a trained and a collapsed group with a gap between, "
                        "so the line is a choice), with each regularizer's rank by runs trained:"),
                   Table(comparisons.success_sensitivity(df, threshold), f"{prefix}success_sensitivity")]
    cd = comparisons.critical_difference(df)
    if cd is None:
        blocks.append(Text(f"A critical-difference diagram over settings (Demsar 2006) needs at least "
                           f"{comparisons.CD_MIN_SETTINGS} settings with every regularizer at each; these results have "
                           f"{df['setting'].nunique()}."))
        return blocks
    ranks = cd["ranks"].sort_values()
    return blocks + [
        Text(f"Ranks over settings (Demsar 2006): at each of the {len(cd['medians'])} settings the regularizers are "
             f"ranked by median FID; Friedman's test of equal mean ranks gives p = {cd['friedman_p']:.2g}, and a bar "
             "joins regularizers the Nemenyi post-hoc test does not separate at 0.05 (scipy, scikit-posthocs). "
             "Settings are the blocks: this says which regularizer ranks well across optimizer settings, not "
             "within one."),
        Figure(figures.critical_difference(cd, path=fig("critical_difference"), colour_of=colour_of),
               "critical-difference diagram"),
        Table(pd.DataFrame({"regularizer": ranks.index, "mean rank": ranks.round(2).to_numpy()}),
              f"{prefix}mean_ranks", shown=False)]


def pairwise_blocks(df: pd.DataFrame, pairs: pd.DataFrame, *, h: int, prefix: str, fig) -> list[Block]:
    regs = regularizers_of(df)
    if pairs["setting"].nunique() > MANY_SETTINGS:
        return [Heading("Pairwise comparisons", h),
                Text(f"P(A's FID < B's FID) over run pairs with its 95% interval, the exact two-sided p-value and its "
                     f"Holm adjustment over the setting's pairs, for every pair of regularizers at each of the "
                     f"{pairs['setting'].nunique()} settings: `tables/{prefix}pairwise.csv` (too many settings for a "
                     "heat map each; the tuning budget below compares regularizers across them)."),
                Table(pairs, f"{prefix}pairwise", shown=False)]
    heat = figures.pairwise_heatmaps(pairs, regs, path=fig("pairwise"))
    separated = int(pairs["separated"].sum()) // 2
    blocks: list[Block] = [
        Heading("Pairwise comparisons", h),
        Text("For every setting, the probability that a run of the row's regularizer reaches a lower FID than "
             "a run of the column's, over all run pairs. A **bold** number is a pair the exact Mann-Whitney test "
             f"separates (two-sided, Holm-adjusted over the setting's pairs, p <= {ALPHA}); a grey one is not "
             f"separated, whatever its size. {separated} of {len(pairs) // 2} pairs are separated. Every pair with "
             f"its interval, `p_exact`, `p_adjusted` and the runs compared: `tables/{prefix}pairwise.csv`."),
    ]
    if heat is not None:
        blocks.append(Figure(heat, "pairwise probability of improvement"))
    return blocks + [Table(pairs, f"{prefix}pairwise", shown=False)]


def budget_blocks(df: pd.DataFrame, *, h: int, prefix: str, fig, colour_of: dict) -> list[Block]:
    budget = comparisons.budget_table(df)
    curve = figures.budget_curves(budget, path=fig("budget"), colour_of=colour_of)
    if curve is None:
        return []
    wide = budget.assign(cell=[interval(m, lo, hi, 1) for m, lo, hi in zip(
        budget["expected_best_fid"], budget["ci_low"], budget["ci_high"])]).pivot(
        index="regularizer", columns="k", values="cell").reindex(list(dict.fromkeys(budget["regularizer"])))
    wide.columns = [f"k={k}" for k in wide.columns]
    return [Heading("Tuning budget", h),
            Text("Which regularizer needs the least tuning (the question behind the paper's Figures 1-2): the "
                 "expected best FID when k of the settings are tried, chosen at random, with one run at each, "
                 "computed exactly over every k-subset from each setting's runs (Lucic et al. 2018; Kurach et al. "
                 "2019), with a stratified bootstrap 95% interval (each setting's runs resampled within it). A "
                 "diverged run counts as the worst FID of the comparison. k=1 is a setting picked at random; the "
                 "last k tries every setting once."),
            Figure(curve, "tuning budget"),
            Table(wide.reset_index(), f"{prefix}budget"),
            Table(budget, f"{prefix}budget_long", shown=False)]


def findings_blocks(df: pd.DataFrame, findings: pd.DataFrame, *, h: int, prefix: str,
                     threshold: float | None) -> list[Block]:
    shown = findings.drop(columns=["id", "verdict", "partial", "smallest_detectable", "seeds_needed"]).rename(
        columns={"verdict in full": "verdict"})
    return [Heading("Paper's findings", h),
            Text("Each qualitative finding of Miyato et al. (2018), as data in `benchmark/paper.yaml`, with the "
                 "hypothesis that tests it: **superiority** (A's FIDs lower than B's) or **non-inferiority** with a "
                 "margin (A's median FID at most 1 + margin times B's, tested on that ratio of medians with "
                 "distribution-free order-statistic bounds; only rejecting inferiority reproduces it, since failing "
                 "to find a difference is not showing there is none). Superiority is an exact one-sided Mann-Whitney "
                 "test. A finding holds only if every comparison does (\"at every setting\"), so each is tested at "
                 "0.05 for the claim (an intersection-union test) and Holm-corrected against it. **reproduced**: "
                 "every comparison significant for the claim; **not reproduced**: one significant against it; "
                 "**inconclusive**: neither, with the power of these seeds and the seeds per cell that would "
                 "reproduce it when runs are drawn from the observed cells; **not applicable**: what it needs is "
                 "missing, or nothing trained where it compares. A verdict reached at part of the settings a "
                 "finding names says where, and why not elsewhere. **verdict on KID**: a superiority finding's "
                 "test on KID instead of FID (KID is unbiased at these sample counts), the same runs counted as "
                 "trained; a ratio claim is not read on KID, which can be negative."),
            Table(shown, f"{prefix}findings"), Table(findings, f"{prefix}findings_long", shown=False),
            *over_training_blocks(df, findings, threshold=threshold, prefix=prefix)]


def over_training_blocks(df: pd.DataFrame, findings: pd.DataFrame, *, threshold: float | None,
                          prefix: str) -> list[Block]:
    table = verdicts_over_training(df, findings, threshold=threshold)
    if table is None:
        return [Text("Whether these verdicts hold as training lengthens needs each run's FID at 1/4 and 1/2 of its "
                     "updates (suite `evaluation.history_every` dividing a quarter of `steps`); these runs do not "
                     "record it.")]
    samples = recorded(df, "protocol", "history_samples")
    since = table["final verdict holds from"]
    judged = int((since != "-").sum())
    return [Text("The same tests on each run's FID as recorded partway through its training (history FIDs"
                 + (f", on {', '.join(map(str, samples))} samples a run" if samples else "")
                 + f", compared with each other at one point of training). Of the {judged} findings that apply "
                 f"somewhere, final verdicts reached by a quarter of the training and held since: "
                 f"{int((since == '1/4').sum())}; by half: {int(since.isin(['1/4', '1/2']).sum())}. One that "
                 "changes late says the training budget decides it, not only the regularizers."),
            Table(table.drop(columns=["id"]), f"{prefix}findings_over_training")]


def settings_table(df: pd.DataFrame) -> pd.DataFrame:
    first = df.drop_duplicates("setting").sort_values("setting")
    return pd.DataFrame({"setting": first["setting"], "lr": first["lr"].map("{:g}".format),
                         "beta1": first["beta1"].map("{:g}".format), "beta2": first["beta2"].map("{:g}".format),
                         "n_dis": first["n_dis"].astype(int).astype(str)})


def spectral_norm_table(rep: dict) -> pd.DataFrame | None:
    rows = []
    for reg, row in rep.items():
        hist = row.get("history")
        if isinstance(hist, dict) and hist.get("sn"):
            rows.append({"regularizer": reg, "setting": row["setting"], "update": hist["sn_step"][-1],
                         **{f"L{j + 1}": f"{v:.3g}" for j, v in enumerate(hist["sn"][-1])}})
    return pd.DataFrame(rows) if rows else None


def eval_series(key: str):
    return lambda h: [e.get(key) for e in h["eval"]]


def group_blocks(df: pd.DataFrame, *, real: list[dict], h: int, prefix: str, out_dir: Path,
                  colour_of: dict, samples_per_setting: bool, sample_source,
                  success: tuple[float | None, str]) -> list[Block]:
    fig_dir = out_dir / "figures"
    extractor = values(df, "feature_extractor") or "n/a"
    dataset, architecture = df["dataset"].iloc[0], df["architecture"].iloc[0]
    regs, settings = [str(r) for r in df["regularizer"].cat.categories], sorted(df["setting"].unique())
    many = len(settings) > MANY_SETTINGS
    counts = df["status"].value_counts().to_dict()
    comparable = extractor.startswith("inception")  # the paper's numbers are Inception's
    published = paper.table2(dataset, architecture) if comparable else {}
    threshold, origin = success
    best = best_table(df, extractor, real, threshold=threshold, published=published,
                      real_published=paper.real_data(dataset) if comparable else None)

    def fig(name: str) -> Path:
        return fig_dir / f"{prefix}{name}.png"

    pairs, findings, scores = pairwise_table(df), check_findings(df, threshold=threshold), scores_table(df, threshold)
    kid = kid_verdicts(df, threshold=threshold)  # each superiority finding read on KID too, beside FID's verdict
    findings.insert(findings.columns.get_loc("partial") + 1, "verdict on KID", findings["id"].map(kid).fillna("-"))
    timing = timing_basis(df)
    timed = timing.runs
    held_out = any(b.held_out for b in comparisons.best_settings(df, threshold).values())
    blocks: list[Block] = [
        Heading("Summary", h),
        Text(in_short(df, pairs, findings, scores, threshold)),
        Text(f"{len(df)} runs ({', '.join(f'{v} {k}' for k, v in counts.items())}) from suite"
             f"{'s' if df['suite'].nunique() > 1 else ''} "
             f"{', '.join(f'`{s}`' for s in dict.fromkeys(df['suite']))} on `{dataset}` at "
             f"{df['image_size'].iloc[0]}px, {architecture} (width {values(df, 'width')}), "
             f"{values(df, 'steps')} generator updates per run."),
        Text(instrument_text(df, extractor)),
        Text(statistics_text(df, threshold, success_source(origin))),
        Text("Each regularizer at its best setting (as the paper's Table 2): the setting with the lowest median "
             "FID, the median there [order-statistic interval] and how many of its runs trained, the KID's "
             "median there, and the best median IS over settings. "
             + ("The best setting is chosen on the lower half of the seeds and its scores are those of the upper "
                "half, so that picking the least of several medians does not flatter it. " if held_out else
                "With fewer than 6 runs per cell the setting is chosen and scored on the same runs: picking the "
                "least of several medians is optimistic (its winner is partly luck). ")
             + "**FID rank** is 1 + the number of regularizers the exact test separates as better at their best "
             "settings, on every run there (Holm over those pairs; on the held-out half alone no rank could "
             "separate): regularizers it does not separate share a rank. The best IS is the best median over "
             "settings on all runs, not held out. With one run a cell the IS shows ± its std over splits."),
        Table(best, f"{prefix}best"),
    ]
    if published:
        blocks.append(Text("Columns marked **paper** are Miyato et al. (2018), Table 2, for the same dataset, "
                           "architecture and row; ours are from the result files. They are comparable only under "
                           "the same protocol (see Reproducibility)."))
    blocks += [
        Heading("Robustness across settings", h),
        *robustness_blocks(df, extractor=extractor, prefix=prefix, fig=fig, colour_of=colour_of,
                            threshold=threshold, scores=scores),
        Text(f"Every summary with its interval, one row per regularizer and setting: `tables/{prefix}scores.csv` "
             "(fid_median with _low, _high and _coverage; fid_iqm with its bootstrap interval; successes and "
             "success_rate with Wilson's interval; is_ and kid_ medians; and each score's mean with Student's t "
             "interval, fid_mean, fid_ci_low, ...)."),
        Table(scores, f"{prefix}scores", shown=False),
        *pairwise_blocks(df, pairs, h=h, prefix=prefix, fig=fig),
        *budget_blocks(df, h=h, prefix=prefix, fig=fig, colour_of=colour_of),
        *findings_blocks(df, findings, h=h, prefix=prefix, threshold=threshold),
        Heading("Cost", h),
        *([] if many else [Figure(figures.grouped_dots(
            timed, "sec_per_100_updates", ylabel="seconds per 100 generator updates",
            title="Training time (cf. Fig. 10)", path=fig("time_per_100_updates"), colour_of=colour_of),
            "time per 100 updates")]),
        Text(f"Times of {timing.text}. " + machines_text(timed)
             + "Seconds per 100 generator updates (training only: scoring, probes and checkpoints are off the "
             "clock), the median over runs, and in brackets the ratio to `none` at the same setting"
             + ("" if "none" in regs else " (no `none` run here, so no ratios)")
             + (f"; with {len(settings)} settings only the median ratio is shown, every setting in "
                f"`tables/{prefix}cost.csv`:" if many else ":")),
        Table(cost_table(timed).iloc[:, [0, -1]] if many and "none" in regs else cost_table(timed),
              f"{prefix}cost_summary" if many else f"{prefix}cost"),
        *([Table(cost_table(timed), f"{prefix}cost", shown=False)] if many else []),
        Heading("Training", h),
    ]
    rep = figures.representative_runs(df)
    scores = figures.curves(rep, [
        ("eval_step", eval_series("fid"), f"FID ({extractor}), lower is better", "FID over training"),
        ("eval_step", eval_series("inception_score_mean"), f"IS ({extractor}), higher is better",
         "IS over training")], path=fig("scores_over_training"), colour_of=colour_of)
    losses = figures.curves(rep, [
        ("step", lambda hist: hist["d_loss"], "discriminator loss (mean over log interval)", "D loss"),
        ("step", lambda hist: hist["g_loss"], "generator loss (mean over log interval)", "G loss")],
        path=fig("losses_over_training"), colour_of=colour_of)
    blocks.append(Text("One line per regularizer, from its best-FID run (setting in brackets). Scores over "
                       "training use a smaller sample than the final ones, so they read lower than the tables."))
    blocks += [Figure(scores, "scores over training")] if scores else [Text("No scores over training recorded "
                                                                            "(suite `evaluation.history_every`).")]
    blocks += [Figure(losses, "losses over training")] if losses else []
    sn_fig, sn_table = figures.spectral_norms(rep, path=fig("spectral_norms")), spectral_norm_table(rep)
    if sn_fig is not None:
        blocks += [Text("Largest singular value of each D layer's effective weight over training (cf. the "
                        "paper's spectral-norm figure), for the same runs:"), Figure(sn_fig, "spectral norms"),
                   Text("At the end of training:"), Table(sn_table, f"{prefix}spectral_norms")]
    blocks += [Heading("Samples", h), Text("Samples of each regularizer's best-FID run (setting below its name):"),
               Figure(figures.samples_per_regularizer(
                   {reg: (row["setting"], sample_source(row)) for reg, row in rep.items()},
                   path=fig("samples")), "samples per regularizer")]
    if samples_per_setting:
        grid = {}
        for _, row in df.iterrows():
            grid.setdefault((str(row["regularizer"]), row["setting"]), sample_source(row))
        blocks += [Text("Every setting (first seed):"),
                   Figure(figures.sample_grid(grid, regs=regs, settings=settings, path=fig("samples_per_setting")),
                          "samples per setting")]
    blocks += [Heading("All runs", h), Table(runs_table(df, extractor), f"{prefix}runs")]
    return blocks


def missing_blocks(suites: list[SuiteResults]) -> list[Block]:
    missing = [m for s in suites for m in s.missing()]
    unplanned = [s.name for s in suites if s.plan is None]
    blocks: list[Block] = []
    if missing:
        planned = sum(len(s.plan["runs"]) for s in suites if s.plan)
        blocks += [Heading("Missing runs", 2),
                   Text(f"**Partial results:** {len(missing)} of {planned} planned runs have no result yet "
                        "(still running, stopped, or lost); the tables above leave them out. "
                        "`regbench run SUITE` again finishes them, resuming those in progress from their checkpoints."),
                   Table(pd.DataFrame(missing)[["suite", "regularizer", "setting", "seed", "state", "run_id"]],
                         "missing")]
    if unplanned:
        blocks += [Text(f"No plan recorded for {', '.join(f'`{n}`' for n in unplanned)} (results from before "
                        "regbench kept one): runs missing there cannot be listed.")]
    problems = [p for s in suites for p in s.problems]
    if problems:
        blocks += [Text(f"**{len(problems)} file{'s' if len(problems) > 1 else ''} left out** of this report "
                        "(`regbench run SUITE` moves a damaged result aside and redoes its run):"),
                   Bullets([f"`{p}`" for p in problems])]
    return blocks


def reproducibility(suites: list[SuiteResults], command: str) -> list[Block]:
    rows = []
    for s in suites:
        if not s.results:
            continue
        df = pd.json_normalize(s.results)

        def vals(col: str, fmt=str) -> str:
            return ", ".join(fmt(v) for v in dict.fromkeys(df[col].dropna())) if col in df else "-"

        commits = ", ".join(dict.fromkeys(
            f"{c[:10]}{' (dirty)' if d else ''}" for c, d in zip(df.get("environment.git_commit", []),
                                                                 df.get("environment.git_dirty", []))
            if isinstance(c, str))) or "-"
        proto = df.get("protocol.is_samples")
        protocol = "-" if proto is None else ", ".join(dict.fromkeys(
            f"IS {int(i)} samples / {int(sp)} splits; FID {int(ff)} fake vs {int(fr)} real ({split})"
            for i, sp, ff, fr, split in zip(df["protocol.is_samples"], df["protocol.is_splits"],
                                             df["protocol.fid_fake"], df["protocol.fid_real"],
                                             df["protocol.fid_real_split"]) if pd.notna(i)))
        # the training protocol (docs/protocol.md), as run: where runs differ (batch norm always runs D on real
        # and fake separately) each variant names its regularizers; results older than these fields show "-"
        variants: dict[str, list[str]] = {}
        for reg, *fields in zip(df["regularizer"], *(df.get(k, pd.Series(dtype=object)) for k in (
                "init", "latent", "d_passes", "lr_decay", "g_batch_size"))):
            if isinstance(fields[0], str):
                text = "init {}, z ~ {}, D passes {}, lr decay {}, G batch {:g}".format(*fields)
                variants.setdefault(text, []).append(str(reg))
        training = "; ".join(text + (f" ({', '.join(dict.fromkeys(regs))})" if len(variants) > 1 else "")
                             for text, regs in variants.items()) or "-"
        finished = sorted(df["finished"].dropna()) if "finished" in df else []
        rows.append({
            "suite": s.name, "runs": len(df),
            "suite file sha256": vals("suite_sha256") or "-",
            "regbench commit": commits, "regbench": vals("environment.regbench"),
            "python": vals("environment.python"), "torch": vals("environment.torch"),
            "torch-fidelity": vals("environment.torch_fidelity"),
            "device": ", ".join(dict.fromkeys(f"{d} ({n})" for d, n in zip(
                df.get("environment.device", []), df.get("environment.device_name", [])) if isinstance(d, str))),
            "feature extractor": ", ".join(dict.fromkeys(
                f"{e} (weights sha256 {w})" for e, w in zip(df.get("protocol.feature_extractor", []),
                                                            df.get("protocol.feature_extractor_weights_sha256", []))
                if isinstance(e, str))) or vals("feature_extractor"),
            "scoring protocol": protocol,
            "training protocol": training,
            "runs finished": f"{finished[0][:10]} to {finished[-1][:10]}" if finished else "-",
        })
    table = pd.DataFrame(rows).set_index("suite").T.reset_index().rename(columns={"index": "what"})
    return [Heading("Reproducibility", 2),
            Text("What produced these numbers, from the result files (each value that differs between runs of "
                 "a suite is listed):"),
            Table(table, "reproducibility"),
            Bullets([f"report written {dt.datetime.now().isoformat(timespec='seconds')} from "
                     + ", ".join(f"`{s.folder}`" for s in suites), f"regenerate with `{command}`"])]


def instrument_warning(groups: dict[tuple, list[dict]]) -> list[Block]:
    """Runs that differ only in the extractor's weights would have been one comparison: say why they are not."""
    by_rest: dict[tuple, list[tuple]] = {}
    for key, group in groups.items():
        by_rest.setdefault(key[:4], []).append((key[4], len(group)))
    out = []
    for (dataset, size, arch, extractor), weights in by_rest.items():
        if len(weights) > 1:
            listed = ", ".join(f"`{w}` ({n} runs)" for w, n in weights)
            out.append(Text(f"**Two instruments.** The {dataset} {size}px {arch} runs were scored by {len(weights)} "
                            f"different {extractor} networks: {listed}. A score is a measurement only against a "
                            "fixed network, so each set is its own comparison below, with its own cells, tests and "
                            "findings; no number here compares runs across them. Rerun one set with the other's "
                            "scorer to compare them."))
    return out
