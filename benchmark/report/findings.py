"""The paper's qualitative findings, checked on any results: each finding is data in paper.yaml (what it
claims and which rule checks it); each rule here turns a runs frame into a verdict with the numbers behind it.

Verdicts: ``reproduced``; ``not reproduced`` (the data say the opposite beyond their intervals);
``inconclusive`` (intervals include no difference, or there is one seed: nothing is beyond an interval);
``not applicable`` (the results lack a regularizer or setting the finding needs). A finding that is not
reproduced is reported as such.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .. import paper
from .comparisons import fid_scores, regularizers_of, settings_of
from .stats import mean_ci, probability_of_improvement, separated

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_APPLICABLE = "reproduced", "not reproduced", "inconclusive", "not applicable"


def _p(df: pd.DataFrame, a: str, sa: str, b: str, sb: str) -> dict:
    return probability_of_improvement(fid_scores(df, a, sa), fid_scores(df, b, sb))


def _p_text(label: str, row: dict) -> str:
    ci = "" if np.isnan(row["ci_low"]) else f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    return f"{label}: P = {row['p_a_better']:.2f}{ci} (n {row['n_a']} vs {row['n_b']})"


def _verdict(signs: list[int]) -> str:
    """From the separations of the comparisons a finding rests on: any against it -> not reproduced; all in
    its favour (+1) -> reproduced; otherwise inconclusive."""
    if not signs:
        return NOT_APPLICABLE
    if any(s == -1 for s in signs):
        return NOT_REPRODUCED
    return REPRODUCED if all(s == 1 for s in signs) else INCONCLUSIVE


def beats(df: pd.DataFrame, rule: dict) -> tuple[str, list[str]]:
    """``a`` beats each of ``b`` at each of ``settings`` (default: every setting in the results)."""
    a, settings = rule["a"], rule.get("settings") or settings_of(df)
    signs, evidence = [], []
    for setting in settings:
        for b in rule["b"]:
            if len(fid_scores(df, a, setting)) and len(fid_scores(df, b, setting)):
                row = _p(df, a, setting, b, setting)
                signs.append(separated(row))
                evidence.append(_p_text(f"{setting}: P(FID {a} < {b})", row))
    return _verdict(signs), evidence


def not_worse_than_best(df: pd.DataFrame, rule: dict) -> tuple[str, list[str]]:
    """At every setting, the best regularizer there (lowest mean FID) does not beat ``a`` beyond the interval.
    Needs intervals: with one seed the verdict is inconclusive, never reproduced by default."""
    a = rule["a"]
    signs, evidence = [], []  # +1: not worse (the finding), -1: worse beyond the interval, 0: unknown
    for setting in settings_of(df):
        mine = fid_scores(df, a, setting)
        others = {r: x for r in regularizers_of(df) if r != a and len(x := fid_scores(df, r, setting))}
        if not len(mine) or not others:
            continue
        best = min(others, key=lambda r: float(np.mean(others[r])))
        if np.mean(mine) <= np.mean(others[best]):
            evidence.append(f"{setting}: {a} has the lowest mean FID ({np.mean(mine):.1f})")
            signs.append(1 if len(mine) > 1 else 0)
            continue
        row = _p(df, best, setting, a, setting)
        signs.append(-1 if separated(row) == 1 else 0 if np.isnan(row["ci_low"]) else 1)
        evidence.append(_p_text(f"{setting}: P(FID {best} < {a})", row))
    return _verdict(signs), evidence


def degrades_with_n_dis(df: pd.DataFrame, rule: dict) -> tuple[str, list[str]]:
    """At the lr and betas of setting ``base``, ``degrades``'s FID at the largest n_dis is worse than at the
    smallest beyond the interval, and ``stable``'s is not."""
    base = paper.settings()[rule["base"]]
    same = df[np.isclose(df["lr"], base["lr"]) & np.isclose(df["beta1"], base["beta1"])
              & np.isclose(df["beta2"], base["beta2"])]
    n_dis = sorted(same["n_dis"].unique())
    if len(n_dis) < 2:
        return NOT_APPLICABLE, [f"needs settings at {rule['base']}'s lr and betas with two n_dis values or more; "
                                f"found n_dis {', '.join(map(str, n_dis)) or 'none'}"]
    setting_at = {n: sorted(same.loc[same["n_dis"] == n, "setting"].unique())[0] for n in (n_dis[0], n_dis[-1])}
    lo, hi = setting_at[n_dis[0]], setting_at[n_dis[-1]]
    rows = {}
    for role in ("degrades", "stable"):
        reg = rule[role]
        if not (len(fid_scores(df, reg, lo)) and len(fid_scores(df, reg, hi))):
            return NOT_APPLICABLE, [f"no {reg} runs at both {lo} and {hi}"]
        rows[role] = _p(df, reg, lo, reg, hi)  # P(FID at few D steps < FID at many): > 0.5 is degradation
    evidence = [_p_text(f"P(FID {rule[r]} at n_dis {n_dis[0]} ({lo}) < at n_dis {n_dis[-1]} ({hi}))", rows[r])
                for r in rows]
    worse, stable = separated(rows["degrades"]), separated(rows["stable"])
    if worse == -1 or stable == 1:
        return NOT_REPRODUCED, evidence
    return (REPRODUCED if worse == 1 and stable != 1 and not np.isnan(rows["stable"]["ci_low"]) else INCONCLUSIVE), evidence


def cost(df: pd.DataFrame, rule: dict) -> tuple[str, list[str]]:
    """Seconds per 100 generator updates over ``baseline``'s, per run pair of the same setting and seed (at
    ``n_dis``), mean and interval over the pairs, against the limits ``at_most`` and ``at_least``."""
    base = rule["baseline"]
    timed = df[(df["n_dis"] == rule.get("n_dis", df["n_dis"])) & df["sec_per_100_updates"].notna()]
    times = timed.set_index(["regularizer", "setting", "seed"])["sec_per_100_updates"].astype(float)
    signs, evidence = [], []
    for limit_kind, sign in (("at_most", -1), ("at_least", 1)):
        for reg, limit in rule.get(limit_kind, {}).items():
            ratios = [t / times[(base, s, seed)] for (r, s, seed), t in times.items()
                      if r == reg and (base, s, seed) in times.index]
            if not ratios:
                continue
            mean, low, high = mean_ci(ratios)
            evidence.append(f"{reg}: {mean:.2f}x {base}" + ("" if np.isnan(low) else f" [{low:.2f}, {high:.2f}]")
                            + f" over {len(ratios)} run pairs ({limit_kind.replace('_', ' ')} {limit}x)")
            if np.isnan(low):
                signs.append(0)
            elif sign < 0:  # at most: the whole interval below the limit, or above it
                signs.append(1 if high <= limit else -1 if low > limit else 0)
            else:
                signs.append(1 if low >= limit else -1 if high < limit else 0)
    return _verdict(signs), evidence


RULES: dict[str, Callable[[pd.DataFrame, dict], tuple[str, list[str]]]] = {
    "beats": beats, "not_worse_than_best": not_worse_than_best, "degrades_with_n_dis": degrades_with_n_dis,
    "cost": cost,
}


def _needs(rule: dict) -> set[str]:
    names = {rule.get("a"), rule.get("degrades"), rule.get("stable"), rule.get("baseline"), *rule.get("b", ()),
             *rule.get("at_most", {}), *rule.get("at_least", {})}
    return {n for n in names if n}


def check_findings(df: pd.DataFrame, findings: list[dict] | None = None) -> pd.DataFrame:
    """One row per finding: id, finding, source, verdict, evidence (the comparisons behind the verdict)."""
    rows = []
    for f in findings if findings is not None else paper.paper()["findings"]:
        missing = sorted(_needs(f) - set(regularizers_of(df)))
        if missing:
            verdict, evidence = NOT_APPLICABLE, [f"no runs of {', '.join(missing)}"]
        else:
            verdict, evidence = RULES[f["rule"]](df, f)
        rows.append({"id": f["id"], "finding": f["text"], "source": f.get("source", ""), "verdict": verdict,
                     "evidence": "; ".join(evidence) or "-"})
    return pd.DataFrame(rows, columns=["id", "finding", "source", "verdict", "evidence"])
