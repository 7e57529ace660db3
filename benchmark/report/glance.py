"""A report at a glance, for the README: each regularizer's median FID and runs trained per setting, the pairs
the corrected test separates, and the paper's findings' verdicts beside those of other reports. Read from a
committed report's tables (scores.csv, pairwise.csv, findings.csv), so a README block made here is checked by
regenerating it (``python -m benchmark.report.glance reports/fashion-mnist``), not by matching prose.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd



def _fid(x: float) -> str:
    """Three significant figures, as the reports' sentences give a median (79.1, 543, 1207)."""
    if pd.isna(x):
        return "-"
    if x == float("inf"):
        return "diverged"
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def _table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (regenerate the report with `regbench report`)")
    return pd.read_csv(path)


def scores(report: Path) -> str:
    """Regularizers x settings: "median FID (runs trained/runs)", in the report's row order."""
    df = _table(Path(report) / "tables" / "scores.csv")
    settings = list(dict.fromkeys(df["setting"]))
    lines = ["| regularizer | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings)]
    for reg, rows in df.groupby("regularizer", sort=False):
        by = rows.set_index("setting")
        cells = [f"{_fid(by.loc[s, 'fid_median'])} ({int(by.loc[s, 'successes'])}/{int(by.loc[s, 'runs'])})"
                 if s in by.index else "-" for s in settings]
        lines.append(f"| {reg} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def separated(report: Path) -> str:
    """Per setting, whom each regularizer beats where the exact test separates the pair after Holm's
    correction (the report's pairwise table, each unordered pair once)."""
    df = _table(Path(report) / "tables" / "pairwise.csv")
    lines = []
    for setting, rows in df.groupby("setting", sort=False):
        order = list(dict.fromkeys([*rows["a"], *rows["b"]]))
        pairs, beats = set(), {}
        for r in rows.itertuples():
            pairs.add(frozenset((r.a, r.b)))
            if r.separated:
                winner, loser = (r.a, r.b) if r.p_a_better >= 0.5 else (r.b, r.a)
                beats.setdefault(winner, set()).add(loser)
        said = [f"{w} beats {', '.join(x for x in order if x in beats[w])}" for w in order if w in beats]
        count = sum(len(v) for v in beats.values())
        lines.append(f"- {setting} ({count} of {len(pairs)} pairs separated): " + ("; ".join(said) or "none"))
    return "\n".join(lines)


def verdicts(reports: dict[str, Path]) -> str:
    """The paper's findings, one row each with its test (superiority, or non-inferiority and its margin), and a
    column of verdicts per report (named by its key); a verdict names the settings it was reached at."""
    tables = {name: _table(Path(path) / "tables" / "findings.csv").set_index("finding") for name, path in reports.items()}
    findings = list(dict.fromkeys(f for t in tables.values() for f in t.index))
    lines = ["| finding | test | " + " | ".join(tables) + " |", "|---|---|" + "---|" * len(tables)]
    for finding in findings:
        test = next((t.loc[finding, "test"] for t in tables.values() if finding in t.index and "test" in t), "-")
        cells = [t.loc[finding, "verdict"] if finding in t.index else "-" for t in tables.values()]
        lines.append(f"| {finding} | {test} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def power(report: Path) -> str:
    """What the report's seeds could not decide: each inconclusive finding with the effect its runs detect
    and the seeds a cell that would settle it (the findings table's power column)."""
    df = _table(Path(report) / "tables" / "findings.csv")
    rows = df[df["verdict"].astype(str).str.startswith("inconclusive")]
    return "\n".join(f"- {r.finding} *{r.verdict}*: {r.power}" for r in rows.itertuples()) or \
        "- every finding was decided (none inconclusive)"


BLOCK = re.compile(r"<!-- glance (.+?) -->\n(.*?)\n?<!-- /glance -->", re.S)


def blocks(text: str, root: Path) -> list[tuple[str, str, str]]:
    """The generated blocks of a markdown text: (what, the block as written, the block as generated now).
    A block is ``<!-- glance KIND ARGS -->`` ... ``<!-- /glance -->``; KIND is scores, separated or power (ARGS:
    a report folder) or verdicts (ARGS: NAME=FOLDER ...)."""
    out = []
    for m in BLOCK.finditer(text):
        kind, *args = m.group(1).split()
        if kind == "verdicts":
            made = verdicts({a.split("=", 1)[0]: root / a.split("=", 1)[1] for a in args})
        else:
            made = {"scores": scores, "separated": separated, "power": power}[kind](root / args[0])
        out.append((m.group(1), m.group(2), made))
    return out


def refresh(path: Path, root: Path) -> bool:
    """Rewrites each glance block of ``path`` from the reports; True when anything changed."""
    text = Path(path).read_text()
    made = iter([m for _, _, m in blocks(text, root)])
    new = BLOCK.sub(lambda m: f"<!-- glance {m.group(1)} -->\n{next(made)}\n<!-- /glance -->", text)
    if new != text:
        Path(path).write_text(new)
    return new != text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report", nargs="?", help="a report folder: print its scores and separated pairs")
    p.add_argument("--refresh", metavar="MARKDOWN", help="rewrite the glance blocks of this file (e.g. README.md)")
    args = p.parse_args(argv)
    if args.refresh:
        changed = refresh(Path(args.refresh), Path(args.refresh).resolve().parent)
        print(f"{args.refresh}: {'updated' if changed else 'already current'}")
        return 0
    if not args.report:
        p.error("give a report folder or --refresh FILE")
    print(scores(Path(args.report)) + "\n\n" + separated(Path(args.report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
