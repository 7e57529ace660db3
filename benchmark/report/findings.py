"""The paper's qualitative findings, checked on any results: each finding is data in paper.yaml (what it claims
and the hypothesis that tests it); each rule here turns a runs frame into a verdict with the numbers behind it.

A finding is a **superiority** claim (A's FIDs are lower than B's: an exact one-sided Mann-Whitney test,
stats.mw_p_less) or a **non-inferiority** claim with a margin m (A's median FID is at most (1 + m) times B's:
tested on that scale, the ratio of medians, with distribution-free order-statistic bounds,
stats.median_ratio_p; only rejecting inferiority reproduces it, failing to find a difference does not).

Every finding is a conjunction ("at every setting", "each of"), so it is reproduced only if every comparison
is significant in its favour, each at 0.05: an intersection-union test, which needs no correction in that
direction. Against the claim one failing comparison suffices (a union), so that direction is Holm-corrected
over the finding's comparisons.

Verdicts: ``reproduced`` (every comparison in the claim's favour); ``not reproduced`` (one significantly
against it); ``inconclusive`` (neither: the row says the smallest effect these seeds detect with 80% power and
how many seeds the observed effect needs); ``not applicable`` (the results lack a regularizer or setting the
finding needs, or nothing trained where it compares). Settings a finding names but the results lack, and
settings where nothing trained, are named in its scope.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .. import paper
from .tables import timing_basis
from .comparisons import _runs, fid_scores, regularizers_of, settings_of, trained
from .stats import (ALPHA, MAX_SEEDS, Power, holm, log_residuals, mean_ci, median_ratio_ci, median_ratio_p, mw_p_less,
                    probability_of_improvement, seeds_needed_resampled, smallest_p)

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_APPLICABLE = "reproduced", "not reproduced", "inconclusive", "not applicable"


@dataclass
class Comparison:
    """One test of a finding: H1 is that ``better``'s FIDs are lower than ``worse``'s times ``factor``."""
    label: str
    better: np.ndarray
    worse: np.ndarray
    factor: float = 1.0  # 1 + margin for a non-inferiority test
    p_for: float = math.nan
    p_against: float = math.nan
    adjusted_for: float = math.nan
    adjusted_against: float = math.nan

    def test(self) -> None:
        if self.factor == 1:
            self.p_for = mw_p_less(self.better, self.worse)
            self.p_against = mw_p_less(self.worse, self.better)
        else:  # non-inferiority: the ratio of medians, the scale the claim is stated on
            self.p_for, self.p_against = median_ratio_p(self.better, self.worse, self.factor)

    @property
    def sign(self) -> int:
        return 1 if self.adjusted_for <= ALPHA else -1 if self.adjusted_against <= ALPHA else 0

    @property
    def log_shift(self) -> float:
        """How far the observed medians favour the claim, on log FID (> 0: in its favour)."""
        def log_median(x):
            return math.log(max(float(np.median(x)), 1e-9))
        return log_median(self.worse * self.factor) - log_median(self.better)

    def text(self) -> str:
        if self.factor == 1:
            poi = probability_of_improvement(self.better, self.worse)
            ci = "" if math.isnan(poi["ci_low"]) else f" [{poi['ci_low']:.2f}, {poi['ci_high']:.2f}]"
            effect = f"P = {poi['p_a_better']:.2f}{ci}"
        else:
            ratio, low, high = median_ratio_ci(self.better, self.worse)
            effect = f"median ratio {_ratio(ratio)} [{_ratio(low)}, {_ratio(high)}]"
        return (f"{self.label}: median FID {_num(np.median(self.better))} vs {_num(np.median(self.worse))}, "
                f"{effect}, p = {_p(self.p_for)} (against: Holm {_p(self.adjusted_against)}), "
                f"n {len(self.better)} vs {len(self.worse)}")


def _num(x: float) -> str:
    return "inf (diverged)" if not np.isfinite(x) else f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _ratio(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.2f}"


def _p(p: float) -> str:
    return "-" if math.isnan(p) else f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


@dataclass
class Outcome:
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # settings missing, runs missing
    untrained: dict[str, list[str]] = field(default_factory=dict)  # setting -> the regularizers none of whose runs trained
    evidence: list[str] = field(default_factory=list)  # numbers beyond the comparisons (cost)
    verdict: str | None = None  # set by rules that decide without comparisons
    untested: dict[str, str] = field(default_factory=dict)  # setting the finding names -> why it was not tested


@dataclass
class Context:
    df: pd.DataFrame
    threshold: float | None
    power: Power
    metric: str = "fid"  # the score compared (kid_mean: the KID reading); whether a run trained is FID's

    def scores(self, reg: str, setting: str) -> np.ndarray:
        """The compared score of a regularizer's runs at a setting (diverged: +inf, failed: left out)."""
        if self.metric == "fid":
            return fid_scores(self.df, reg, setting)
        runs = _runs(self.df, reg, setting)
        return np.where(runs["status"] == "ok", runs[self.metric].astype(float).fillna(np.inf), np.inf)


def _settings(ctx: Context, rule: dict, out: Outcome) -> list[str]:
    """The settings a finding names that the results hold; the others named as missing."""
    wanted = rule.get("settings") or settings_of(ctx.df)
    missing = [s for s in wanted if s not in settings_of(ctx.df)]
    if missing:
        out.notes.append(f"setting{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in these results")
        out.untested.update({s: "not in these results" for s in missing})
    return [s for s in wanted if s not in missing]


def _nothing_trained(ctx: Context, setting: str, names, out: Outcome) -> bool:
    """True (and noted) when no run of ``names`` trained at a setting: a comparison there has no winner."""
    if any(trained(fid_scores(ctx.df, n, setting), ctx.threshold) for n in names):
        return False
    here = out.untrained.setdefault(setting, [])
    here += [n for n in names if n not in here]
    out.untested.setdefault(setting, "nothing trained")
    return True


def _scope(out: Outcome, threshold: float | None) -> str:
    below = f"below FID {threshold:g}" if threshold is not None else "that finished"
    notes = out.notes + [f"not applicable at {s}: nothing trained (no run of {', '.join(f'`{n}`' for n in names)} "
                         f"{below})" for s, names in out.untrained.items()]
    return "; ".join(notes) or "-"


def beats(ctx: Context, rule: dict) -> Outcome:
    """Superiority: ``a``'s FIDs are lower than each of ``b``'s at each of ``settings`` (default: all)."""
    out, a = Outcome(), rule["a"]
    for setting in _settings(ctx, rule, out):
        for b in rule["b"]:
            mine, theirs = ctx.scores(a, setting), ctx.scores(b, setting)
            if not (len(mine) and len(theirs)):
                out.notes.append(f"no runs of {a if not len(mine) else b} at {setting}")
                out.untested.setdefault(setting, f"no runs of {a if not len(mine) else b}")
            elif not _nothing_trained(ctx, setting, (a, b), out):
                out.comparisons.append(Comparison(f"{setting}: {a} < {b}", mine, theirs))
    return out


def non_inferior(ctx: Context, rule: dict) -> Outcome:
    """Non-inferiority: at each setting ``a``'s median FID is at most (1 + ``margin``) times the best other
    regularizer's there. That holds exactly when it holds against every other regularizer (the best included),
    so ``a`` is compared with each one that ran, and the finding needs them all: no comparator is picked on the
    same data that then tests it."""
    out, a, factor = Outcome(), rule["a"], 1 + rule["margin"]
    for setting in _settings(ctx, rule, out):
        mine = ctx.scores(a, setting)
        if not len(mine):
            out.notes.append(f"no runs of {a} at {setting}")
            out.untested[setting] = f"no runs of {a}"
            continue
        others = [r for r in regularizers_of(ctx.df) if r != a and len(ctx.scores(r, setting))]
        if not others:
            out.notes.append(f"only {a} ran at {setting}")
            out.untested[setting] = f"only {a} ran"
            continue
        if _nothing_trained(ctx, setting, (a, *others), out):
            continue
        for other in others:
            out.comparisons.append(Comparison(f"{setting}: {a} <= {factor:g} x {other}", mine,
                                              ctx.scores(other, setting), factor))
    return out


def degrades_with_n_dis(ctx: Context, rule: dict) -> Outcome:
    """At the lr and betas of setting ``base``: ``degrades``'s FIDs are higher at the largest n_dis than at the
    smallest (superiority), and ``stable``'s at the largest are at most (1 + ``margin``) times those at the
    smallest (non-inferiority). Both n_dis must train for the same number of updates: otherwise the comparison
    confounds n_dis with training length."""
    out, df = Outcome(), ctx.df
    base = paper.settings()[rule["base"]]
    same = df[np.isclose(df["lr"], base["lr"]) & np.isclose(df["beta1"], base["beta1"])
              & np.isclose(df["beta2"], base["beta2"])]
    n_dis = sorted(same["n_dis"].unique())
    if len(n_dis) < 2:
        out.verdict = NOT_APPLICABLE
        out.notes.append(f"needs settings at {rule['base']}'s lr and betas with two n_dis values or more; found "
                         f"n_dis {', '.join(map(str, n_dis)) or 'none'}")
        return out
    at = {}
    for n in (n_dis[0], n_dis[-1]):
        candidates = sorted(same.loc[same["n_dis"] == n, "setting"].unique())
        at[n] = candidates[0]
        if len(candidates) > 1:
            out.notes.append(f"n_dis {n} read at {candidates[0]} (of {', '.join(candidates)}: the first by name)")
    lo, hi = at[n_dis[0]], at[n_dis[-1]]
    steps = {s: sorted(set(df.loc[df["setting"] == s, "steps"].dropna().astype(int))) for s in (lo, hi)}
    if steps[lo] != steps[hi]:
        out.verdict = NOT_APPLICABLE
        out.notes.append(f"training lengths differ: {lo} (n_dis {n_dis[0]}) runs {', '.join(map(str, steps[lo]))} "
                         f"updates, {hi} (n_dis {n_dis[-1]}) {', '.join(map(str, steps[hi]))}: the comparison "
                         "would confound n_dis with training length")
        return out
    for role, factor in (("degrades", 1.0), ("stable", 1 + rule["margin"])):
        reg = rule[role]
        few, many = fid_scores(df, reg, lo), fid_scores(df, reg, hi)
        if not (len(few) and len(many)):
            out.verdict = NOT_APPLICABLE
            out.notes.append(f"no {reg} runs at both {lo} and {hi}")
            return out
        if role == "degrades":
            out.comparisons.append(Comparison(f"{reg}: n_dis {n_dis[0]} ({lo}) < n_dis {n_dis[-1]} ({hi})", few, many))
        else:
            out.comparisons.append(Comparison(f"{reg}: n_dis {n_dis[-1]} ({hi}) <= {factor:g} x n_dis {n_dis[0]} "
                                              f"({lo})", many, few, factor))
    return out


def cost(ctx: Context, rule: dict) -> Outcome:
    """Seconds per 100 generator updates over ``baseline``'s, per run pair of the same setting and seed (at
    ``n_dis``), against the limits ``at_most`` and ``at_least``. Timings do not collapse, so their mean with
    Student's t interval serves here: the whole interval must lie on the claim's side of the limit."""
    out, base = Outcome(), rule["baseline"]
    timing = timing_basis(ctx.df)  # like with like: one group size, one D-passes protocol
    df = timing.runs
    timed = df[df["n_dis"] == rule.get("n_dis", df["n_dis"])]
    times = timed.set_index(["regularizer", "setting", "seed"])["sec_per_100_updates"].astype(float)
    signs = []
    for limit_kind, sign in (("at_most", -1), ("at_least", 1)):
        for reg, limit in rule.get(limit_kind, {}).items():
            ratios = [t / times[(base, s, seed)] for (r, s, seed), t in times.items()
                      if r == reg and (base, s, seed) in times.index]
            if not ratios:
                out.notes.append(f"no {reg} timing pairs with {base} under the timing basis ({timing.label})")
                signs.append(0)
                continue
            mean, low, high = mean_ci(ratios)
            out.evidence.append(f"{reg}: {mean:.2f}x {base}" + ("" if np.isnan(low) else f" [{low:.2f}, {high:.2f}]")
                                + f" over {len(ratios)} {'run' if timing.alone else 'group'} pairs "
                                + f"({limit_kind.replace('_', ' ')} {limit}x; {timing.label})")
            if np.isnan(low):
                signs.append(0)
            elif sign < 0:
                signs.append(1 if high <= limit else -1 if low > limit else 0)
            else:
                signs.append(1 if low >= limit else -1 if high < limit else 0)
    boots = {e.get("boot_id") for e in timed.get("environment", []) if isinstance(e, dict)} - {None}
    if len(boots) > 1:  # two machine boots run at different speeds: a ratio across them is not only a cost
        out.notes.append(f"timings from {len(boots)} machine boots: a ratio may pair runs timed on different "
                         "machines, so it cannot reproduce the finding")
        signs = [0 if s == 1 else s for s in signs]
    out.verdict = (NOT_APPLICABLE if not out.evidence else NOT_REPRODUCED if -1 in signs
                   else REPRODUCED if all(s == 1 for s in signs) else INCONCLUSIVE)
    return out


RULES: dict[str, Callable[[Context, dict], Outcome]] = {
    "beats": beats, "non_inferior": non_inferior, "degrades_with_n_dis": degrades_with_n_dis, "cost": cost,
}
TESTS = {"beats": "superiority", "non_inferior": "non-inferiority, margin {margin:.0%}",
         "degrades_with_n_dis": "superiority + non-inferiority (margin {margin:.0%})", "cost": "interval vs limit"}


def _decide(out: Outcome) -> str:
    comparisons = out.comparisons
    if out.verdict is not None:
        return out.verdict
    if not comparisons:
        return NOT_APPLICABLE
    for c in comparisons:
        c.test()
        c.adjusted_for = c.p_for  # an intersection-union test: every comparison at 0.05, no correction
    for c, adj in zip(comparisons, holm([c.p_against for c in comparisons])):  # a union: Holm
        c.adjusted_against = float(adj)
    signs = [c.sign for c in comparisons]
    return NOT_REPRODUCED if -1 in signs else REPRODUCED if all(s == 1 for s in signs) else INCONCLUSIVE


def _power_text(out: Outcome, power: Power) -> tuple[str, float | None, int | None]:
    """For an inconclusive finding, from its undecided comparison that needs the most: the smallest factor
    between medians its runs detect with 80% power at 0.05 (the pooled shift model, stats.Power), and the
    seeds per cell that reproduce the claim with 80% power when runs are drawn from the observed cells
    themselves (stats.seeds_needed_resampled: their collapse and bimodality kept), or that none will."""
    undecided = [c for c in out.comparisons if c.sign == 0]
    if not undecided:
        return "-", None, None
    needs = [(c, seeds_needed_resampled(c.better, c.worse, ALPHA, factor=c.factor)) for c in undecided]
    c, needed = max(needs, key=lambda cn: math.inf if cn[1] is None else cn[1])
    detect = power.smallest_detectable(len(c.better), len(c.worse), ALPHA)
    where = c.label.split(":")[0]
    level = f"At 0.05, {len(c.better)} vs {len(c.worse)} runs"
    can = (f"{level} can detect no effect: the least p-value they can give is "
           f"{smallest_p(len(c.better), len(c.worse)):.2g}" if not math.isfinite(detect)
           else f"{level} detect a {detect:.2g}x difference in median FID with 80% power (a pure shift)")
    observed = f"{math.exp(c.log_shift):.2g}x" if math.isfinite(c.log_shift) else "observed"
    if needed is None:
        decide = (f"drawing runs from the observed cells at {where} ({observed} in the claim's favour), not even "
                  f"{MAX_SEEDS} seeds per cell reach 80% power: not attainable")
    elif needed <= min(len(c.better), len(c.worse)):
        decide = (f"drawing runs from the observed cells at {where}, {needed} seeds per cell already have 80% "
                  "power: these runs fell short by chance, and more seeds would likely decide it")
    else:
        decide = f"drawing runs from the observed cells at {where}, about {needed} seeds per cell reach 80% power"
    return f"{can}; {decide}.", detect, needed


def _needs(rule: dict) -> set[str]:
    names = {rule.get("a"), rule.get("degrades"), rule.get("stable"), rule.get("baseline"), *rule.get("b", ()),
             *rule.get("at_most", {}), *rule.get("at_least", {})}
    return {n for n in names if n}


FINDING_COLUMNS = ["id", "finding", "source", "test", "verdict", "verdict in full", "partial", "scope", "power",
                   "smallest_detectable", "seeds_needed", "evidence"]


def span(settings) -> str:
    """Settings as a reader says them: runs of consecutive single letters as ranges (A-C, F), others listed."""
    names = sorted(settings)
    if not all(len(n) == 1 for n in names):
        return ", ".join(names)
    parts, run = [], [names[0]] if names else []
    for n in names[1:]:
        if ord(n) == ord(run[-1]) + 1:
            run.append(n)
        else:
            parts.append(run)
            run = [n]
    if run:
        parts.append(run)
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}, {r[1]}" if len(r) == 2 else f"{r[0]}-{r[-1]}" for r in parts)


def in_full(verdict: str, out: Outcome) -> tuple[str, bool]:
    """The verdict with its scope in its own words ("reproduced at D, E (A-C, F: nothing trained)") when the
    finding was tested at part of the settings it names; whether it was."""
    tested = sorted({c.label.split(":")[0] for c in out.comparisons})
    if verdict == NOT_APPLICABLE or not out.untested or not tested:
        return verdict, False
    by_reason: dict[str, list[str]] = {}
    for setting, reason in out.untested.items():
        by_reason.setdefault(reason, []).append(setting)
    why = "; ".join(f"{span(ss)}: {reason}" for reason, ss in by_reason.items())
    return f"{verdict} at {span(tested)} ({why})", True


# rules whose claim reads on any score (superiority); a ratio claim does not hold on KID, which can be negative
ANY_SCORE = ("beats",)


def kid_verdicts(df: pd.DataFrame, *, threshold: float | None = None) -> dict[str, str]:
    """Each superiority finding's verdict with KID in place of FID (KID is unbiased at these sample counts,
    FID is not), the same runs counted as trained; the others "-" (a ratio of a score that can be negative)."""
    if "kid_mean" not in df or df["kid_mean"].isna().all():
        return {}
    wanted = [f for f in paper.paper()["findings"] if f["rule"] in ANY_SCORE]
    out = check_findings(df, wanted, threshold=threshold, metric="kid_mean")
    return dict(zip(out["id"], out["verdict in full"]))


def check_findings(df: pd.DataFrame, findings: list[dict] | None = None, *, threshold: float | None = None,
                   metric: str = "fid") -> pd.DataFrame:
    """One row per finding: id, finding, source, the test, verdict, scope (settings missing or not applicable),
    power (for an inconclusive one), and the evidence (each comparison with its medians, P and p-values)."""
    cells = [fid_scores(df, r, s) for r in regularizers_of(df) for s in settings_of(df)]
    ctx = Context(df, threshold, Power(log_residuals(cells)), metric)
    rows = []
    for f in findings if findings is not None else paper.paper()["findings"]:
        missing = sorted(_needs(f) - set(regularizers_of(df)))
        if missing:
            out = Outcome(verdict=NOT_APPLICABLE, notes=[f"no runs of {', '.join(missing)}"])
        else:
            out = RULES[f["rule"]](ctx, f)
        verdict = _decide(out)
        power, detect, needed = _power_text(out, ctx.power) if verdict == INCONCLUSIVE and out.comparisons else (
            "-", None, None)
        full, partial = in_full(verdict, out)
        rows.append({"id": f["id"], "finding": f["text"], "source": f.get("source", ""),
                     "test": TESTS[f["rule"]].format(**f), "verdict": verdict, "verdict in full": full,
                     "partial": partial, "scope": _scope(out, threshold),
                     "power": power, "smallest_detectable": detect, "seeds_needed": needed,
                     "evidence": "; ".join([c.text() for c in out.comparisons] + out.evidence) or "-"})
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
