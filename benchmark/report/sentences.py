"""The report's sentences: what a table or a test result says, in words, from the numbers alone."""
from __future__ import annotations

import math

import pandas as pd

from . import comparisons
from .comparisons import settings_of
from .stats import ALPHA, CONFIDENCE, median_ci, median_coverage, smallest_p
from .tables import median_text, success_text


MANY_SETTINGS = 8  # past this, a bar or a table column per setting stops being readable


def statistics_text(df: pd.DataFrame, threshold: float | None, source: str) -> str:
    n = df[df["status"].isin(["ok", "diverged"])].groupby(["regularizer", "setting"], observed=True).size()
    least = int(n.min()) if len(n) else 0
    coverage = median_coverage(least)
    cover = ("" if not least >= 2 or coverage >= CONFIDENCE else
             f" With {least} runs no such interval reaches 95%: it is their range, which covers the median "
             f"with probability {coverage:.0%}.")
    trained_text = (f"A run **trained** when its FID is below **{threshold:g}** ({source}; `regbench report "
                    "--success-fid X` changes it)" if threshold is not None else
                    "No success threshold is known for this dataset and feature extractor, so every finished run "
                    "counts as trained (`regbench report --success-fid X` sets one)")
    least_p = smallest_p(least, least) if least else float("nan")
    pairs = math.comb(max(df["regularizer"].nunique(), 2), 2)
    return (
        "**How to read the numbers.** GAN runs either train or collapse, so a cell (a regularizer at a setting) "
        "is summarized by its **median FID** with a distribution-free 95% interval between order statistics "
        "(it holds whatever the distribution), its interquartile mean with a bootstrap interval "
        f"(`tables/scores.csv`), and its **success rate** with a Wilson 95% interval. {trained_text}; a diverged "
        "run counts as FID +inf (never trained), a failed run (a crash) is left out." + cover + " Two "
        "regularizers are **separated** when the exact Mann-Whitney test (ties and diverged runs counted "
        f"exactly) gives p <= {ALPHA} after Holm's correction over the comparisons made: every pair of one "
        "setting, or every comparison of one finding. The effect size is P(A's FID < B's FID) over run pairs "
        "(Agarwal et al. 2021) with Newcombe's 95% interval, which keeps its coverage when every pair favours one "
        f"side. With {least} runs a side the least one-sided p-value any difference can give is {least_p:.2g} "
        f"(two-sided {min(1, 2 * least_p):.2g}), so a setting's {pairs} pairs can separate one only when "
        f"{pairs} x {min(1, 2 * least_p):.2g} <= {ALPHA} (Holm's first step). Findings state their hypothesis (superiority, or non-inferiority "
        "with a margin) and an inconclusive one says how many seeds would decide it. Means with Student's t "
        "intervals stay in `tables/scores.csv` for those who want them.")


def recorded(df: pd.DataFrame, column: str, key: str) -> list:
    """The distinct values the runs record under ``key`` of a nested field (``protocol``, ``environment``),
    sorted; results older than the key have none."""
    return sorted({d.get(key) for d in df.get(column, []) if isinstance(d, dict)} - {None})


def machines_text(timed: pd.DataFrame) -> str:
    """A warning when the times come from several machine boots (recorded since 2026-12-03): a ratio between
    runs timed on two VMs measures the VMs as much as the regularizers."""
    boots = recorded(timed, "environment", "boot_id")
    return (f"**These times come from {len(boots)} machine boots** (the results' `environment.boot_id`): a ratio "
            "between runs timed on different ones mixes the machines' speeds into the cost. " if len(boots) > 1 else "")


def prc_k(df: pd.DataFrame) -> str:
    ks = recorded(df, "protocol", "prc_neighborhood")
    return "k = " + ", ".join(map(str, ks)) + " nearest neighbours" if ks else "k not recorded"


def success_source(origin: str) -> str:
    return {"flag": "set with --success-fid", "suite": "the suite's success_fid",
            "default": "the default for this dataset and feature extractor"}.get(origin, origin)


def leader_text(pairs: pd.DataFrame, scores: pd.DataFrame, setting: str, threshold: float | None) -> str:
    """One setting for the first paragraph: the leader only when the exact test separates it from every
    other regularizer; otherwise the group it is not separated from, with no leader named."""
    here = scores[scores["setting"] == setting]
    if here.empty:
        return ""
    if not (here["successes"] > 0).any():
        return (f"at **{setting}** nothing trained (no run below FID {threshold:g}), so there is no leader"
                if threshold is not None else f"at **{setting}** no run finished")
    lead = here.sort_values(["fid_median", "success_rate", "regularizer"], ascending=[True, False, True]).iloc[0]
    name = lead["regularizer"]
    mine = pairs[(pairs["setting"] == setting) & (pairs["a"] == name)]
    summary = (f"median FID {median_text(lead['fid_median'], lead['fid_median_low'], lead['fid_median_high'], 1)}"
               f", {success_text(lead['successes'], lead['ok'] + lead['diverged'])} trained")
    if mine.empty:
        return f"at **{setting}** only `{name}` ran ({summary})"
    beaten = [b for b in mine["b"] if comparisons.beats(pairs[pairs["setting"] == setting], name, b)]
    if len(beaten) == len(mine):
        return f"at **{setting}** `{name}` leads ({summary}), separated from every other regularizer"
    if not pairs.loc[pairs["setting"] == setting, "separated"].any():
        return f"at **{setting}** no pair is separated (lowest median: `{name}`, {summary})"
    tied = [b for b in mine["b"] if b not in beaten]
    return (f"at **{setting}** no leader: the lowest median, `{name}`'s ({summary}), is not separated from "
            + ", ".join(f"`{t}`" for t in tied) + (f" (it is from the {len(beaten)} others)" if beaten else ""))


def in_short(df: pd.DataFrame, pairs: pd.DataFrame, findings: pd.DataFrame, scores: pd.DataFrame,
              threshold: float | None) -> str:
    """The first paragraph: per setting, a leader only where the exact test separates one; then the findings."""
    seeds = df[df["status"].isin(["ok", "diverged"])].groupby(["regularizer", "setting"], observed=True).size()
    if seeds.empty or not (df["status"] == "ok").any():
        return "**In short**: no run finished, so there is nothing to compare (see All runs)."
    n = f"{int(seeds.min())}" if seeds.min() == seeds.max() else f"{int(seeds.min())}-{int(seeds.max())}"
    parts = []
    if df["setting"].nunique() > MANY_SETTINGS:  # a sweep: who is best at their best settings, not per setting
        parts.append(sweep_leaders(df, threshold, one_seed=n == "1"))
    else:
        parts += [t for setting in settings_of(df) if (t := leader_text(pairs, scores, setting, threshold))]
    counts = findings["verdict"].value_counts()
    partial = findings[findings["partial"].astype(bool)]["verdict"].value_counts()
    verdicts = ", ".join(f"{counts[v]} {v}" + (f" ({partial[v]} of them at part of the settings named)"
                                               if v in partial else "")
                         for v in ("reproduced", "not reproduced", "inconclusive", "not applicable") if v in counts)
    least = int(seeds.min())
    cannot = 2 * smallest_p(least, least) > ALPHA
    return (f"**In short** ({n} run{'s' if n != '1' else ''} per regularizer and setting; separated means an "
            f"exact test at {ALPHA} after Holm's correction"
            + (f"; with {least} runs a side no pair can be separated, since the least two-sided p-value they can "
               f"give is {2 * smallest_p(least, least):.2g}, so no leader is named" if cannot else "") + "): "
            + "; ".join(parts)
            + f". The paper's findings on these runs: {verdicts} (see Paper's findings).")


def sweep_leaders(df: pd.DataFrame, threshold: float | None, *, one_seed: bool) -> str:
    """For a sweep's first paragraph: the regularizers that rank first at their best settings."""
    best, n_settings = comparisons.best_settings(df, threshold), df["setting"].nunique()
    medians = {r: median_ci(comparisons.best_scores(df, b, r)) for r, b in best.items()}
    if one_seed:  # no test can separate anything: naming a first would rank luck
        top = min(best, key=lambda r: medians[r][0])
        return (f"over {n_settings} settings with one seed (no test, so no ranking), `{top}` has the lowest "
                f"FID ({medians[top][0]:.1f} at {best[top].setting})")
    ranks = comparisons.tied_ranks(df, threshold)
    leaders = [r for r in best if ranks[r] == 1]
    text = ", ".join(f"`{r}` ({median_text(*medians[r][:3], 1)} at {best[r].setting})" for r in leaders)
    return (f"over {n_settings} settings, {text} " + ("share rank 1 at their best settings (not separated from each "
                                                      "other)" if len(leaders) > 1 else "ranks first at its best setting"))


def values(df: pd.DataFrame, col: str) -> str:
    return ", ".join(str(v) for v in dict.fromkeys(df[col].dropna()))


def instrument_text(df: pd.DataFrame, extractor: str) -> str:
    """Which network measured these runs, by name and weights: the instrument a reader compares against."""
    from ..instruments import manifest

    weights = ", ".join(f"`{w}`" for w in dict.fromkeys(df["feature_extractor_weights"].dropna())) or "not recorded"
    text = f"Scores use the feature extractor **{extractor}** (weights {weights})"
    if extractor in manifest():
        shipped = manifest()[extractor].get("module_hash")
        text += (f": a classifier of the {values(df, 'dataset')} images, not Inception, so not comparable with "
                 "published IS/FID. " + ("These are the weights regbench ships, so a rerun anywhere measures with "
                                        "the same network." if shipped and weights == f"`{shipped}`" else
                                        f"regbench now ships other weights (`{shipped}`): rerun these runs to "
                                        "compare them with new ones."))
    return text + ("" if text.endswith(".") else ".")
