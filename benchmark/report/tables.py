"""Result files -> pandas tables."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .comparisons import best_scores, best_settings, regularizers_of, settings_of, tied_ranks
from ..results import COLUMNS
from .stats import median_ci

def runs_frame(results: list[dict], order: list[str] = ()) -> pd.DataFrame:
    """One row per result; regularizers ordered as ``order`` (the suites' own order), then as they appear."""
    df = pd.DataFrame(results)
    for col in COLUMNS:
        if col not in df:
            df[col] = np.nan
    # how the run was timed: alone (1) or as a member of a fused group of k (its share of the group's time)
    df["group_size"] = [int((r.get("fused") or {}).get("size") or 1) for r in results]
    df["group"] = [(r.get("fused") or {}).get("group") or r.get("run_id") for r in results]
    order = list(dict.fromkeys([r for r in order if r in set(df["regularizer"])] + list(df["regularizer"])))
    df["regularizer"] = pd.Categorical(df["regularizer"], categories=order, ordered=True)
    return df.sort_values(["regularizer", "setting", "seed"]).reset_index(drop=True)


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def runs_table(df: pd.DataFrame, extractor: str) -> pd.DataFrame:
    return pd.DataFrame({
        "regularizer": df["regularizer"].astype(str), "setting": df["setting"], "lr": df["lr"].map("{:g}".format),
        "beta1": df["beta1"], "beta2": df["beta2"], "n_dis": df["n_dis"], "seed": df["seed"],
        f"IS ({extractor})": [f"{_fmt(m)} ± {_fmt(s)}" if pd.notna(m) else "-"
                              for m, s in zip(df["inception_score_mean"], df["inception_score_std"])],
        f"FID ({extractor})": df["fid"].map(_fmt),
        "precision": df["precision"].map(_fmt), "recall": df["recall"].map(_fmt),
        "s / 100 updates": df["sec_per_100_updates"].map(_fmt),
        "status": df["status"],
    })


def real_data_row(real: dict, extractor: str) -> dict:
    r = real["real_data"]
    is_text = f"{_fmt(r['inception_score_mean'])} ± {_fmt(r['inception_score_std'])}"
    # the IS may come from another split than the FID (the paper's CIFAR-10 IS is of its training images)
    is_from = r.get("is_split", r["split"])
    where = (f"held-out {r['split']}, n={r['samples']}" if is_from == r["split"] and r.get("is_samples") in
             (None, r["samples"]) else f"FID: held-out {r['split']}, n={r['samples']}; IS: {is_from}, n={r['is_samples']}")
    return {"regularizer": f"real data ({where})", "FID rank": "-", "runs": "-", "ok": "-",
            f"best FID ({extractor})": _fmt(r["fid"]), "FID setting": "-", "trained": "-",
            f"best IS ({extractor})": is_text, "IS setting": "-",
            f"KID ({extractor}, unscaled)": interval(r.get("kid_mean", np.nan), np.nan, np.nan)}


def _paper_columns(out: pd.DataFrame, published: dict, real_published: dict | None) -> pd.DataFrame:
    def is_text(entry):
        return f"{entry['is']:.2f} ± {entry['is_std']:.2f}" if entry else "-"

    def fid_text(entry):
        return f"{entry['fid']:.1f}" if entry and entry.get("fid") is not None else "-"

    entries = [real_published if str(r).startswith("real data") else published.get(str(r))
               for r in out["regularizer"]]
    out["paper IS"] = [is_text(e) for e in entries]
    out["paper FID"] = [fid_text(e) for e in entries]
    return out


def interval(mean: float, low: float, high: float, digits: int | None = None) -> str:
    """mean [low, high], or the mean alone where there is no interval (one seed). ``digits`` None: 2 decimals,
    or 4 for values below 1 (KID on Inception features is ~0.01, on digits-cnn's ~100)."""
    if pd.isna(mean):
        return "-"
    if digits is None:
        digits = 4 if abs(mean) < 1 else 2
    return f"{mean:.{digits}f}" + ("" if pd.isna(low) else f" [{low:.{digits}f}, {high:.{digits}f}]")


def median_text(value: float, low: float, high: float, digits: int | None = None) -> str:
    """A median [interval]; an infinite one (half the runs or more diverged) says so."""
    if pd.notna(value) and np.isinf(value):
        return "diverged"
    text = interval(value, low, high, digits)
    return text.replace("inf]", "diverged]")


def success_text(successes: int, runs: int) -> str:
    return f"{int(successes)}/{int(runs)}"


def best_table(df: pd.DataFrame, extractor: str, real: list[dict] = (), *, threshold: float | None = None,
               published: dict | None = None, real_published: dict | None = None) -> pd.DataFrame:
    """Per regularizer (as the paper's Table 2): its best setting by median FID (comparisons.best_settings:
    chosen on half the seeds and scored on the others when there are 6 or more), the median FID there
    [order-statistic interval] and the share of runs that trained, the KID's median there, the best median IS
    over settings, and a rank that ties where the exact test does not separate (comparisons.tied_ranks); the
    held-out real data's scores first, as the floor to read them against. ``published``: the paper's Table 2
    rows by label, shown beside ours as "paper" columns."""
    best, ranks = best_settings(df, threshold), tied_ranks(df, threshold)
    kid_col, fid_col, is_col = f"KID ({extractor}, unscaled)", f"best FID ({extractor})", f"best IS ({extractor})"
    rows = []
    for reg in regularizers_of(df):
        runs = df[df["regularizer"] == reg]
        row = {"regularizer": reg, "FID rank": "-", "runs": len(runs), "ok": int((runs["status"] == "ok").sum()),
               fid_col: "-", "FID setting": "-", "trained": "-", is_col: "-", "IS setting": "-", kid_col: "-"}
        if reg in best:
            b = best[reg]
            fids = best_scores(df, b, reg)
            median, low, high, _ = median_ci(fids)
            trained = int((fids < (np.inf if threshold is None else threshold)).sum())
            scored = df[(df["regularizer"] == reg) & (df["setting"] == b.setting) & (df["status"] == "ok")
                        & (df["seed"].isin(b.scored_on))]
            kid = median_ci(scored["kid_mean"].astype(float).dropna()) if scored["kid_mean"].notna().any() else (np.nan,) * 4
            row.update({"FID rank": str(ranks[reg]), fid_col: median_text(median, low, high, 2)
                        + (f" ({len(fids)} runs)" if len(fids) > 1 else ""), "FID setting": b.setting + (" (chosen on other seeds)" if b.held_out else ""),
                        "trained": success_text(trained, len(fids)), kid_col: median_text(*kid[:3]),
                        "_fid": median})
            is_by = {st: float(np.median(v)) for st in settings_of(df) if len(v := runs.loc[
                (runs["setting"] == st) & (runs["status"] == "ok"), "inception_score_mean"].dropna().astype(float))}
            if is_by:
                top = max(is_by, key=lambda st: (is_by[st], st))
                values = runs.loc[(runs["setting"] == top) & (runs["status"] == "ok"), "inception_score_mean"].astype(float)
                if len(values) > 1:
                    row[is_col] = median_text(*median_ci(values)[:3], 2)
                else:  # one run: its IS's own std over splits, as the paper's +-
                    std = runs.loc[(runs["setting"] == top) & (runs["status"] == "ok"), "inception_score_std"].mean()
                    row[is_col] = f"{is_by[top]:.2f} ± {_fmt(std)}"
                row["IS setting"] = top
        rows.append(row)
    out = pd.DataFrame(rows)
    order = sorted(range(len(out)), key=lambda i: (int(out["FID rank"][i]) if out["FID rank"][i] != "-" else 10 ** 6,
                                                   out["_fid"][i] if "_fid" in out and pd.notna(out["_fid"][i]) else np.inf))
    out = out.iloc[order].drop(columns=["_fid"], errors="ignore")
    floor = pd.DataFrame([real_data_row(r, extractor) for r in real if r.get("real_data")], columns=out.columns)
    out = pd.concat([floor, out], ignore_index=True)
    return _paper_columns(out, published, real_published) if published else out


def _cell(runs: pd.DataFrame, value: str, digits: int | None, threshold: float | None) -> str:
    """A setting's value for one regularizer: the median [order-statistic interval when several runs]; for FID
    over every finished or diverged run (diverged as +inf) followed by how many trained, for IS and KID over
    the finished runs; runs that diverged or failed named beside it; never a blank."""
    if runs.empty:
        return "-"
    ok = runs.loc[runs["status"] == "ok", value].dropna().astype(float)
    bad = runs.loc[runs["status"] != "ok", "status"]
    why = "/".join(sorted(set(bad)))
    if value == "fid":
        fids = np.where(runs["status"] == "ok", runs["fid"].astype(float).fillna(np.inf), np.inf)[
            runs["status"].isin(["ok", "diverged"]).to_numpy()]
        if not len(fids) or ok.empty:
            return why or "no score"
        median, low, high, _ = median_ci(fids)
        text = median_text(median, low, high, digits)
        if len(fids) > 1:
            text += f" ({success_text((fids < (threshold or np.inf)).sum(), len(fids))})"
    else:
        if ok.empty:
            return why or "no score"
        median, low, high, _ = median_ci(ok)
        text = interval(median, low, high, digits)
    failed = int((runs["status"] == "failed").sum())
    diverged = int((runs["status"] == "diverged").sum())
    notes = [f"{n} of {len(runs)} {k}" for n, k in ((diverged, "diverged"), (failed, "failed")) if n]
    return text + (f" ({', '.join(notes)})" if notes else "")


def per_setting_table(df: pd.DataFrame, value: str, *, digits: int | None = 2,
                      threshold: float | None = None) -> pd.DataFrame:
    """regularizer x setting (the paper's Figures 1-2 as a table)."""
    settings = sorted(df["setting"].unique())
    rows = []
    for reg in df["regularizer"].cat.categories:
        runs = df[df["regularizer"] == reg]
        rows.append({"regularizer": str(reg), **{s: _cell(runs[runs["setting"] == s], value, digits, threshold)
                                                 for s in settings}})
    return pd.DataFrame(rows)


ALONE = "runs trained alone"


class Timing(NamedTuple):
    runs: pd.DataFrame  # one row per timing: a solo run, or a fused group's first member
    text: str  # for the report: what the times are, and what was left out and why
    label: str  # the kind timed, short: "fused groups of 20, D passes separate"
    alone: bool  # solo runs (else fused groups, one timing each)


def timing_basis(df: pd.DataFrame) -> Timing:
    """The runs whose times compare like with like, and what their times are. A fused member's time is its
    share of its group's (the group's / k), which a solo run's is not; and D on real and fake as one batch
    (``d_passes: joint``) costs less than two passes. When a report holds several kinds (group size, D passes),
    only the most common is timed (the one with the most runs; ties: the smaller group) and the rest said to be
    left out. The members of a group share one time, so a fused group is one timing: its first member's row
    stands for it."""
    timed = df.dropna(subset=["sec_per_100_updates"])
    if timed.empty:
        return Timing(timed, "no run recorded a time", "no timings", True)
    passes = timed["d_passes"].fillna("not recorded").astype(str) if "d_passes" in timed else pd.Series(
        "not recorded", index=timed.index)
    kinds = pd.Series(list(zip(timed["group_size"].astype(int), passes)), index=timed.index)
    counts = kinds.value_counts()
    size, passes_of = sorted(counts.index, key=lambda k: (-counts[k], k))[0]

    def name(k: tuple) -> str:
        return ("alone" if k[0] == 1 else f"in groups of {k[0]}") + f", D passes {k[1]}"

    label = (ALONE if size == 1 else f"fused groups of {size}") + f", D passes {passes_of}"
    text = (label if size == 1 else f"fused groups of {size} (a member's share of its group's time, the group's / "
            f"{size}; one timing per group, the members share it), D passes {passes_of}")
    left = len(timed) - int(counts[(size, passes_of)])
    if left:
        others = "; ".join(f"{name(k)}: {counts[k]}" for k in sorted(counts.index) if k != (size, passes_of))
        text += f"; {left} runs timed otherwise ({others}) are left out, their times are not comparable"
    chosen = timed[kinds == (size, passes_of)]
    return Timing(chosen if size == 1 else chosen.drop_duplicates("group"), text, label, size == 1)


def cost_table(df: pd.DataFrame, baseline: str = "none") -> pd.DataFrame:
    """Seconds per 100 generator updates per setting (median over the runs that measured it, diverged ones
    too: their updates cost the same), with the ratio to ``baseline`` at the same setting beside each
    (the paper's Figure 10 as ratios) and the median of those ratios."""
    timed = df.dropna(subset=["sec_per_100_updates"])
    table = timed.pivot_table(index="regularizer", columns="setting", values="sec_per_100_updates",
                              aggfunc="median", observed=False)
    table = table.reindex(index=df["regularizer"].cat.categories, columns=sorted(df["setting"].unique()))
    base = table.loc[baseline] if baseline in table.index else None
    rows = []
    for reg, times in table.iterrows():
        row = {"regularizer": str(reg)}
        ratios = times / base if base is not None else pd.Series(np.nan, index=times.index)
        for setting, t in times.items():
            r = ratios[setting]
            row[setting] = "-" if pd.isna(t) else f"{t:.2f}" + ("" if pd.isna(r) else f" ({r:.2f}x)")
        if base is not None:
            row[f"x {baseline}, median"] = "-" if ratios.isna().all() else f"{ratios.median():.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def top_settings_table(df: pd.DataFrame, scores: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Per regularizer, its ``k`` best settings by median FID [order-statistic interval] and how many runs
    trained, with their values (``scores``: comparisons.scores_table of ``df``): what a sweep over many settings
    found, readable where a regularizer x setting table is not."""
    scores = scores[scores["ok"] > 0]
    values = df.drop_duplicates("setting").set_index("setting")
    rows = []
    for reg in regularizers_of(df):
        mine = scores[scores["regularizer"] == reg].sort_values(["fid_median", "setting"]).head(k)
        for rank, (_, row) in enumerate(mine.iterrows(), 1):
            v = values.loc[row["setting"]]
            rows.append({"regularizer": reg, "#": rank, "setting": row["setting"], "lr": f"{v['lr']:.3g}",
                         "beta1": f"{v['beta1']:g}", "beta2": f"{v['beta2']:.4g}", "n_dis": int(v["n_dis"]),
                         "median FID": median_text(row["fid_median"], row["fid_median_low"], row["fid_median_high"]),
                         "trained": success_text(row["successes"], row["ok"] + row["diverged"]),
                         "median IS": interval(row["is_median"], row["is_median_low"], row["is_median_high"]),
                         "runs": f"{int(row['ok'])} of {int(row['runs'])} ok"})
    return pd.DataFrame(rows)
