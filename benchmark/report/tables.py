"""Result files -> pandas tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .comparisons import best_settings, regularizers_of, scores_table, tied_ranks
from .stats import FLOORS, mean_ci

COLUMNS = ["regularizer", "setting", "lr", "beta1", "beta2", "n_dis", "seed", "status", "inception_score_mean",
           "inception_score_std", "fid", "kid_mean", "sec_per_100_updates", "steps_done", "steps", "run_id"]


def runs_frame(results: list[dict], order: list[str] = ()) -> pd.DataFrame:
    """One row per result; regularizers ordered as ``order`` (the suites' own order), then as they appear."""
    df = pd.DataFrame(results)
    for col in COLUMNS:
        if col not in df:
            df[col] = np.nan
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
    return {"regularizer": f"real data ({where})", "FID rank": "-", "runs": "-",
            "ok": "-", f"best IS ({extractor})": is_text,
            "IS setting": "-", f"best FID ({extractor})": _fmt(r["fid"]), "FID setting": "-",
            f"KID ({extractor})": interval(r.get("kid_mean", np.nan), np.nan, np.nan)}


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


def best_table(df: pd.DataFrame, extractor: str, real: list[dict] = (), *, published: dict | None = None,
               real_published: dict | None = None) -> pd.DataFrame:
    """Per regularizer: its best IS and best FID over settings (as the paper's Table 2), each the mean over
    seeds with its 95% interval, the KID at the best-FID setting, and a rank that ties where the data do not
    separate (comparisons.tied_ranks); the held-out real data's scores first, as the floor to read them
    against. ``published``: the paper's Table 2 rows by label, shown beside ours as "paper" columns."""
    scores = scores_table(df)
    best_fid, ranks = best_settings(df), tied_ranks(df)
    rows = []
    for reg in regularizers_of(df):
        runs = df[df["regularizer"] == reg]
        mine = scores[(scores["regularizer"] == reg) & (scores["ok"] > 0)].set_index("setting")
        row = {"regularizer": reg, "FID rank": "-", "runs": len(runs), "ok": int((runs["status"] == "ok").sum())}
        if mine.empty or reg not in best_fid or best_fid[reg] not in mine.index:
            row.update({f"best IS ({extractor})": "-", "IS setting": "-", f"best FID ({extractor})": "-",
                        "FID setting": "-", f"KID ({extractor})": "-"})
        else:
            bi, bf = mine.loc[mine["is_mean"].idxmax()], mine.loc[best_fid[reg]]
            seeds = f" ({int(bf['ok'])} seeds)" if bf["ok"] > 1 else ""
            if bi["ok"] > 1:
                is_text = interval(bi["is_mean"], bi["is_ci_low"], bi["is_ci_high"], 2) + f" ({int(bi['ok'])} seeds)"
            else:  # one seed: the IS's own std over its splits, as the paper's +-
                split_std = runs.loc[(runs["setting"] == bi.name) & (runs["status"] == "ok"), "inception_score_std"]
                is_text = f"{bi['is_mean']:.2f} ± {_fmt(split_std.mean())}"
            row.update({"FID rank": str(ranks[reg]), f"best IS ({extractor})": is_text, "IS setting": bi.name,
                        f"best FID ({extractor})": interval(bf["fid_mean"], bf["fid_ci_low"], bf["fid_ci_high"], 2)
                        + seeds, "FID setting": bf.name,
                        f"KID ({extractor})": interval(bf["kid_mean"], bf["kid_ci_low"], bf["kid_ci_high"]),
                        "_fid": bf["fid_mean"]})
        rows.append(row)
    out = pd.DataFrame(rows)
    order = sorted(range(len(out)), key=lambda i: (int(out["FID rank"][i]) if out["FID rank"][i] != "-" else 10 ** 6,
                                                   out["_fid"][i] if "_fid" in out and pd.notna(out["_fid"][i]) else np.inf))
    out = out.iloc[order].drop(columns=["_fid"], errors="ignore")
    floor = pd.DataFrame([real_data_row(r, extractor) for r in real if r.get("real_data")], columns=out.columns)
    out = pd.concat([floor, out], ignore_index=True)
    return _paper_columns(out, published, real_published) if published else out


def pivot(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """regularizer x setting, mean over seeds; NaN where no ok run."""
    ok = df[df["status"] == "ok"]
    table = ok.pivot_table(index="regularizer", columns="setting", values=value, aggfunc="mean", observed=False)
    settings = sorted(df["setting"].unique())
    table = table.reindex(index=df["regularizer"].cat.categories, columns=settings)
    table.index.name = "regularizer"
    return table


def _cell(runs: pd.DataFrame, value: str, digits: int) -> str:
    """A setting's value for one regularizer: the mean over its ok seeds [with its 95% interval when
    several], and any runs that diverged or failed named beside it; a setting with no ok run shows why,
    never a blank."""
    if runs.empty:
        return "-"
    ok = runs.loc[runs["status"] == "ok", value].dropna()
    bad = runs.loc[runs["status"] != "ok", "status"]
    why = "/".join(sorted(set(bad)))
    if ok.empty:
        return why or "no score"
    text = interval(*mean_ci(ok.astype(float), FLOORS.get(value)), digits)
    return text + (f" ({len(bad)} of {len(runs)} {why})" if len(bad) else "")


def per_setting_table(df: pd.DataFrame, value: str, *, digits: int = 2) -> pd.DataFrame:
    """regularizer x setting (the paper's Figures 1-2 as a table)."""
    settings = sorted(df["setting"].unique())
    rows = []
    for reg in df["regularizer"].cat.categories:
        runs = df[df["regularizer"] == reg]
        rows.append({"regularizer": str(reg), **{s: _cell(runs[runs["setting"] == s], value, digits) for s in settings}})
    return pd.DataFrame(rows)


def cost_table(df: pd.DataFrame, baseline: str = "none") -> pd.DataFrame:
    """Seconds per 100 generator updates per setting (mean over the runs that measured it, diverged ones
    too: their updates cost the same), with the ratio to ``baseline`` at the same setting beside each
    (the paper's Figure 10 as ratios) and the median of those ratios."""
    timed = df.dropna(subset=["sec_per_100_updates"])
    table = timed.pivot_table(index="regularizer", columns="setting", values="sec_per_100_updates",
                              aggfunc="mean", observed=False)
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


def top_settings_table(df: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Per regularizer, its ``k`` best settings by mean FID over seeds [95% interval], with their values: what
    a sweep over many settings found, readable where a regularizer x setting table is not."""
    scores = scores_table(df)
    scores = scores[scores["ok"] > 0]
    values = df.drop_duplicates("setting").set_index("setting")
    rows = []
    for reg in regularizers_of(df):
        mine = scores[scores["regularizer"] == reg].sort_values("fid_mean").head(k)
        for rank, (_, row) in enumerate(mine.iterrows(), 1):
            v = values.loc[row["setting"]]
            rows.append({"regularizer": reg, "#": rank, "setting": row["setting"], "lr": f"{v['lr']:.3g}",
                         "beta1": f"{v['beta1']:g}", "beta2": f"{v['beta2']:.4g}", "n_dis": int(v["n_dis"]),
                         "FID": interval(row["fid_mean"], row["fid_ci_low"], row["fid_ci_high"]),
                         "IS": interval(row["is_mean"], row["is_ci_low"], row["is_ci_high"]),
                         "runs": f"{int(row['ok'])} of {int(row['runs'])} ok"})
    return pd.DataFrame(rows)
