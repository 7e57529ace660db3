"""The paper's qualitative findings, checked on any results: each finding is data in paper.yaml (what it claims
and the hypothesis that tests it); each rule here turns a runs frame into a verdict with the numbers behind it.

Every comparison is an exact one-sided Mann-Whitney test on FID (stats.mw_p_less), Holm-corrected over the
finding's comparisons (its family). A finding is a **superiority** claim (A's FIDs are lower than B's) or a
**non-inferiority** claim with a margin m (A's FIDs are at most (1 + m) times B's: tested as A against B's FIDs
scaled by 1 + m, so only rejecting inferiority reproduces it; failing to find a difference does not).

Verdicts: ``reproduced`` (every comparison significant in the claim's favour after correction); ``not
reproduced`` (one significant against it); ``inconclusive`` (neither: the row says the smallest effect these
seeds detect with 80% power and how many seeds the observed effect needs); ``not applicable`` (the results lack
a regularizer or setting the finding needs, or nothing trained where it compares). Settings a finding names but
the results lack, and settings where nothing trained, are named in its scope.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .. import paper
from .tables import timing_basis
from .comparisons import fid_scores, regularizers_of, settings_of, trained
from .stats import (ALPHA, MAX_SEEDS, Power, holm, log_residuals, mean_ci, mw_p_less, probability_of_improvement,
                    smallest_p)

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
        self.p_for = mw_p_less(self.better, self.worse * self.factor)
        self.p_against = mw_p_less(self.worse * self.factor, self.better)

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
        poi = probability_of_improvement(self.better, self.worse)
        ci = "" if math.isnan(poi["ci_low"]) else f" [{poi['ci_low']:.2f}, {poi['ci_high']:.2f}]"
        return (f"{self.label}: median FID {_num(np.median(self.better))} vs {_num(np.median(self.worse))}, "
                f"P = {poi['p_a_better']:.2f}{ci}, p = {_p(self.p_for)} (Holm {_p(self.adjusted_for)}), "
                f"n {len(self.better)} vs {len(self.worse)}")


def _num(x: float) -> str:
    return "inf (diverged)" if not np.isfinite(x) else f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _p(p: float) -> str:
    return "-" if math.isnan(p) else f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


@dataclass
class Outcome:
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # settings missing, runs missing
    untrained: dict[str, list[str]] = field(default_factory=dict)  # setting -> the regularizers none of whose runs trained
    evidence: list[str] = field(default_factory=list)  # numbers beyond the comparisons (cost)
    verdict: str | None = None  # set by rules that decide without comparisons


@dataclass
class Context:
    df: pd.DataFrame
    threshold: float | None
    power: Power


def _settings(ctx: Context, rule: dict, out: Outcome) -> list[str]:
    """The settings a finding names that the results hold; the others named as missing."""
    wanted = rule.get("settings") or settings_of(ctx.df)
    missing = [s for s in wanted if s not in settings_of(ctx.df)]
    if missing:
        out.notes.append(f"setting{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in these results")
    return [s for s in wanted if s not in missing]


def _nothing_trained(ctx: Context, setting: str, names, out: Outcome) -> bool:
    """True (and noted) when no run of ``names`` trained at a setting: a comparison there has no winner."""
    if any(trained(fid_scores(ctx.df, n, setting), ctx.threshold) for n in names):
        return False
    here = out.untrained.setdefault(setting, [])
    here += [n for n in names if n not in here]
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
            mine, theirs = fid_scores(ctx.df, a, setting), fid_scores(ctx.df, b, setting)
            if not (len(mine) and len(theirs)):
                out.notes.append(f"no runs of {a if not len(mine) else b} at {setting}")
            elif not _nothing_trained(ctx, setting, (a, b), out):
                out.comparisons.append(Comparison(f"{setting}: {a} < {b}", mine, theirs))
    return out


def _best_other(ctx: Context, a: str, setting: str) -> str | None:
    """The regularizer other than ``a`` with the lowest median FID at a setting, among those that trained."""
    others = {r: x for r in regularizers_of(ctx.df) if r != a and trained(x := fid_scores(ctx.df, r, setting),
                                                                        ctx.threshold)}
    return min(others, key=lambda r: (float(np.median(others[r])), r)) if others else None


def non_inferior(ctx: Context, rule: dict) -> Outcome:
    """Non-inferiority: at each setting ``a``'s FIDs are at most (1 + ``margin``) times those of the best other
    regularizer there (the lowest median among those that trained)."""
    out, a, factor = Outcome(), rule["a"], 1 + rule["margin"]
    for setting in _settings(ctx, rule, out):
        mine = fid_scores(ctx.df, a, setting)
        if not len(mine):
            out.notes.append(f"no runs of {a} at {setting}")
            continue
        best = _best_other(ctx, a, setting)
        if best is None:
            _nothing_trained(ctx, setting, regularizers_of(ctx.df), out)
            continue
        out.comparisons.append(Comparison(f"{setting}: {a} <= {factor:g} x {best}", mine,
                                          fid_scores(ctx.df, best, setting), factor))
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
    at = {n: sorted(same.loc[same["n_dis"] == n, "setting"].unique())[0] for n in (n_dis[0], n_dis[-1])}
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
    out.verdict = (NOT_APPLICABLE if not signs else NOT_REPRODUCED if -1 in signs
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
    for attr in ("for", "against"):  # a family per direction: Holm over the finding's comparisons
        for c, adj in zip(comparisons, holm([getattr(c, f"p_{attr}") for c in comparisons])):
            setattr(c, f"adjusted_{attr}", float(adj))
    signs = [c.sign for c in comparisons]
    return NOT_REPRODUCED if -1 in signs else REPRODUCED if all(s == 1 for s in signs) else INCONCLUSIVE


def _power_text(out: Outcome, power: Power) -> tuple[str, float | None, int | None]:
    """For an inconclusive finding: at Holm's strictest level (0.05 / comparisons), the smallest factor between
    medians its runs detect with 80% power, and the seeds per cell the observed effect needs; from the undecided
    comparison that needs the most."""
    undecided = [c for c in out.comparisons if c.sign == 0]
    if not undecided:
        return "-", None, None
    alpha = ALPHA / len(out.comparisons)
    needs = [(c, power.seeds_needed(c.log_shift, alpha)) for c in undecided]
    c, needed = max(needs, key=lambda cn: math.inf if cn[1] is None else cn[1])
    detect = power.smallest_detectable(len(c.better), len(c.worse), alpha)
    where = c.label.split(":")[0]
    level = f"At alpha {alpha:.2g} (0.05 / {len(out.comparisons)} comparisons), {len(c.better)} vs {len(c.worse)} runs"
    can = (f"{level} can detect no effect: the least p-value they can give is "
           f"{smallest_p(len(c.better), len(c.worse)):.2g}" if not math.isfinite(detect)
           else f"{level} detect a {detect:.2g}x difference in median FID with 80% power")
    if needed is None:
        decide = (f"at {where} the observed medians do not favour the claim ({math.exp(c.log_shift):.2g}x), so more "
                  "seeds are not expected to reproduce it")
    elif needed > MAX_SEEDS:
        decide = f"the observed {math.exp(c.log_shift):.2g}x at {where} needs more than {MAX_SEEDS} seeds per cell"
    elif needed <= min(len(c.better), len(c.worse)):
        decide = (f"against the observed {math.exp(c.log_shift):.2g}x at {where}, {needed} seeds per cell already have "
                  "80% power: these runs fell short by chance, and more seeds would likely decide it")
    else:
        decide = f"the observed {math.exp(c.log_shift):.2g}x at {where} needs about {needed} seeds per cell"
    return f"{can}; {decide}.", detect, needed


def _needs(rule: dict) -> set[str]:
    names = {rule.get("a"), rule.get("degrades"), rule.get("stable"), rule.get("baseline"), *rule.get("b", ()),
             *rule.get("at_most", {}), *rule.get("at_least", {})}
    return {n for n in names if n}


FINDING_COLUMNS = ["id", "finding", "source", "test", "verdict", "scope", "power", "smallest_detectable",
                   "seeds_needed", "evidence"]


def check_findings(df: pd.DataFrame, findings: list[dict] | None = None, *, threshold: float | None = None
                   ) -> pd.DataFrame:
    """One row per finding: id, finding, source, the test, verdict, scope (settings missing or not applicable),
    power (for an inconclusive one), and the evidence (each comparison with its medians, P and p-values)."""
    cells = [fid_scores(df, r, s) for r in regularizers_of(df) for s in settings_of(df)]
    ctx = Context(df, threshold, Power(log_residuals(cells)))
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
        rows.append({"id": f["id"], "finding": f["text"], "source": f.get("source", ""),
                     "test": TESTS[f["rule"]].format(**f), "verdict": verdict, "scope": _scope(out, threshold),
                     "power": power, "smallest_detectable": detect, "seeds_needed": needed,
                     "evidence": "; ".join([c.text() for c in out.comparisons] + out.evidence) or "-"})
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
