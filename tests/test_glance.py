"""README blocks made from the committed reports (benchmark/report/glance.py): a number there is checked by
regenerating its block, not by matching prose."""
from pathlib import Path

import pandas as pd

from benchmark.report import glance

ROOT = Path(__file__).resolve().parents[1]


def tiny_report(folder: Path) -> Path:
    tables = folder / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame({"regularizer": ["a", "a", "b", "b"], "setting": ["D", "B", "D", "B"], "runs": [10] * 4,
                  "successes": [9, 0, 2, 1], "fid_median": [79.14, 1207.4, float("inf"), 5.678]}
                 ).to_csv(tables / "scores.csv", index=False)
    pd.DataFrame({"setting": ["D", "D", "B", "B"], "a": ["a", "b", "a", "b"], "b": ["b", "a", "b", "a"],
                  "p_a_better": [0.95, 0.05, 0.4, 0.6], "separated": [True, True, False, False]}
                 ).to_csv(tables / "pairwise.csv", index=False)
    pd.DataFrame({"finding": ["SN wins", "SN is cheap"], "test": ["superiority"] * 2,
                  "verdict": ["reproduced at D", "inconclusive"],
                  "power": ["-", "12 seeds a cell"]}).to_csv(tables / "findings.csv", index=False)
    return folder


def test_the_glance_tables_say_what_the_report_tables_hold(tmp_path):
    report = tiny_report(tmp_path / "r")
    assert glance.scores(report).splitlines() == ["| regularizer | D | B |", "|---|---|---|",
                                                  "| a | 79.1 (9/10) | 1207 (0/10) |",
                                                  "| b | diverged (2/10) | 5.68 (1/10) |"]
    # each unordered pair once, the better one first
    assert glance.separated(report).splitlines() == ["- D (1 of 1 pairs separated): a beats b",
                                                     "- B (0 of 1 pairs separated): none"]
    other = tmp_path / "o" / "tables"
    other.mkdir(parents=True)
    pd.DataFrame({"finding": ["WN degrades"], "verdict": ["not applicable"]}).to_csv(other / "findings.csv", index=False)
    assert glance.verdicts({"x": report, "y": other.parent}).splitlines() == [
        "| finding | test | x | y |", "|---|---|---|---|", "| SN wins | superiority | reproduced at D | - |",
        "| SN is cheap | superiority | inconclusive | - |", "| WN degrades | - | - | not applicable |"]
    assert glance.power(report) == "- SN is cheap *inconclusive*: 12 seeds a cell"  # only what was not decided


def test_refresh_rewrites_a_stale_block_and_leaves_the_rest(tmp_path):
    tiny_report(tmp_path / "r")
    doc = tmp_path / "README.md"
    doc.write_text("intro\n<!-- glance scores r -->\n| stale |\n<!-- /glance -->\noutro\n")
    assert glance.refresh(doc, tmp_path)
    text = doc.read_text()
    assert text.startswith("intro\n<!-- glance scores r -->\n| regularizer | D | B |") and text.endswith(
        "<!-- /glance -->\noutro\n")
    assert not glance.refresh(doc, tmp_path)  # now current


def test_every_glance_block_in_the_readme_is_what_the_committed_reports_give():
    found = glance.blocks((ROOT / "README.md").read_text(), ROOT)
    assert found, "the README quotes its results through glance blocks"
    for spec, written, made in found:
        assert written == made, f"README block `{spec}` is stale: python -m benchmark.report.glance --refresh README.md"
