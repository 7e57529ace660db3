"""Whether a finding's verdict holds as training lengthens: the same tests (findings.check_findings) on each
run's FID as recorded at a fraction of its training (its history, `evaluation.history_every`), beside the
verdict at the end.

A verdict that flips between half and full training says the budget decides it, not the regularizers; one
that holds from a quarter on does not hinge on the training length chosen. History FIDs use
`evaluation.history_samples` images, which can be fewer than the final score's, so they read higher (FID is
biased upwards at small sample counts): the verdicts compare runs with each other at one point of training,
each on the same basis, never a history FID with a final one.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from .. import paper
from .findings import NOT_APPLICABLE, check_findings

FRACTIONS = (Fraction(1, 4), Fraction(1, 2))
FID_RULES = ("beats", "non_inferior", "degrades_with_n_dis")  # cost is timing, which training length does not change


def fid_at(df: pd.DataFrame, fraction: Fraction) -> pd.DataFrame | None:
    """The runs frame with each run's FID as its history recorded it after ``fraction`` of its updates; None
    when some finished or diverged run recorded no FID at that update (history_every does not divide it).
    A run that diverged later had not yet at that point, so it counts with the FID it had; one that diverged
    earlier counts as diverged (FID +inf), as it does at the end."""
    runs = df[df["status"].isin(["ok", "diverged"])].copy()
    fids = []
    done = runs["steps_done"] if "steps_done" in runs else pd.Series([None] * len(runs), index=runs.index)
    for hist, steps, status, stopped in zip(runs.get("history", pd.Series([None] * len(runs), index=runs.index)),
                                            runs["steps"], runs["status"], done):
        at = fraction * int(steps) if pd.notna(steps) else None
        evals = dict(zip(hist.get("eval_step", []), hist.get("eval", []))) if isinstance(hist, dict) else {}
        if at is not None and at.denominator == 1 and int(at) in evals:
            fids.append(evals[int(at)].get("fid"))
        elif status == "diverged" and at is not None and pd.notna(stopped) and int(stopped) < at:
            fids.append(None)  # diverged before that point: FID +inf from there on, as at the end
        else:
            return None
    runs["fid"] = [np.nan if f is None else float(f) for f in fids]
    runs["status"] = ["ok" if np.isfinite(f) else "diverged" for f in runs["fid"]]
    return runs


def verdicts_over_training(df: pd.DataFrame, findings: pd.DataFrame, *, threshold: float | None
                           ) -> pd.DataFrame | None:
    """One row per FID finding of paper.yaml: its verdict at each fraction of training, at the end
    (``findings``, the report's own verdicts) and the point from which the final one holds; None when no
    fraction has a FID recorded for every run."""
    at = {f: fid_at(df, f) for f in FRACTIONS}
    if all(frame is None for frame in at.values()):
        return None
    wanted = [f for f in paper.paper()["findings"] if f["rule"] in FID_RULES]
    early = {f: (None if frame is None else check_findings(frame, wanted, threshold=threshold).set_index("id"))
             for f, frame in at.items()}
    rows = []
    for _, row in findings[findings["id"].isin([f["id"] for f in wanted])].iterrows():
        verdicts = {f"at {f} of training": "no FID recorded" if early[f] is None else early[f].loc[row["id"], "verdict"]
                    for f in FRACTIONS}
        rows.append({"id": row["id"], "finding": row["finding"], **verdicts, "at the end": row["verdict"],
                     "final verdict holds from": _holds_from(list(zip(FRACTIONS, verdicts.values())), row["verdict"])})
    return pd.DataFrame(rows)


def _holds_from(early: list[tuple[Fraction, str]], final: str) -> str:
    """The earliest point of training from which every verdict is the final one: "1/4", "1/2" or "the end";
    "-" when the finding applies nowhere."""
    if final == NOT_APPLICABLE and all(v in (NOT_APPLICABLE, "no FID recorded") for _, v in early):
        return "-"
    since = "the end"
    for fraction, verdict in reversed(early):
        if verdict != final:
            break
        since = str(fraction)
    return since
