"""Reports from a fixed set of synthetic result files, written here: tables, paper columns, figures, links,
the HTML page, several suites at once and a sweep still running."""
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from benchmark.report import write_report
from benchmark.store import CHECKPOINT_DIR, REFERENCE_DIR, write_json, write_plan, write_result, write_samples

PNG = b"\x89PNG\r\n\x1a\n"
FIGURES = ("is_per_setting", "fid_per_setting", "time_per_100_updates", "samples", "scores_over_training",
           "losses_over_training", "spectral_norms", "pairwise", "budget", "precision_recall")


def result(reg, setting, *, fid, status="ok", is_mean=6.0, seed=0, sec=12.5, suite="synthetic",
           dataset="cifar10", extractor="inception-v3-compat"):
    ok = status == "ok"
    layers = ["features.0", "features.2", "head"]
    return {
        "suite": suite, "suite_sha256": "abc123", "run_id": f"{reg}-{setting}-s{seed}", "regularizer": reg,
        "setting": setting, "lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "seed": seed, "steps": 100,
        "steps_done": 100, "status": status, "error": None if ok else "non-finite loss", "dataset": dataset,
        "image_size": 32, "architecture": "standard_cnn", "width": 1.0, "feature_extractor": extractor,
        "inception_score_mean": is_mean if ok else None, "inception_score_std": 0.1 if ok else None,
        "fid": fid if ok else None, "kid_mean": 0.01, "precision": 0.5 + seed / 100 if ok else None,
        "recall": 0.25 if ok else None, "sec_per_100_updates": sec, "finished": "2026-11-30T10:00:00",
        "environment": {"git_commit": "0123456789abcdef", "git_dirty": False, "regbench": "0.1.0", "python": "3.11.7",
                        "torch": "2.14.1", "torch_fidelity": "0.4.0", "device": "cpu", "device_name": "x86_64"},
        "protocol": {"feature_extractor": extractor, "feature_extractor_weights_sha256": "feedbeef",
                     "is_samples": 5000, "is_splits": 10, "fid_fake": 5000, "fid_real": 10000,
                     "fid_real_split": "train", "dataset": dataset, "image_size": 32, "prc_neighborhood": 3},
        "history": {"step": [50, 100], "d_loss": [1.0, 0.8], "g_loss": [1.0, 1.2], "sn_layers": layers,
                    "sn_step": [0, 100], "sn": [[2.0, 3.0, 1.5], [1.0, 1.01, 0.99]], "eval_step": [50, 100],
                    "eval": [{"samples": 100, "fid": fid + 10, "inception_score_mean": is_mean - 1},
                             {"samples": 100, "fid": fid, "inception_score_mean": is_mean}]},
    }


def write_folder(folder, rows, *, planned=(), groups=()):
    for row in rows:
        write_result(folder, row)
        if row["status"] == "ok":
            write_samples(folder, row["run_id"], np.zeros((16, 3, 32, 32), np.uint8))
    runs = [{"run_id": r["run_id"], "regularizer": r["regularizer"], "setting": r["setting"], "seed": r["seed"]}
            for r in rows] + list(planned)
    write_plan(folder, {"suite": rows[0]["suite"], "runs": runs, "groups": list(groups)})
    return folder


@pytest.fixture
def results_dir(tmp_path):
    folder = tmp_path / "results" / "synthetic"
    rows = [result("spectral_norm", "A", fid=30.0, sec=12.5), result("spectral_norm", "D", fid=35.0, is_mean=5.0),
            result("wgan_gp", "A", fid=40.0, sec=20.0), result("wgan_gp", "D", fid=0, status="diverged"),
            result("none", "A", fid=50.0, sec=10.0), result("none", "D", fid=0, status="failed")]
    write_folder(folder, rows)
    write_json(folder / REFERENCE_DIR / "real.json",
               {"protocol": {"dataset": "cifar10", "image_size": 32, "feature_extractor": "inception-v3-compat"},
                "real_data": {"split": "test", "samples": 5000, "inception_score_mean": 11.0,
                              "inception_score_std": 0.1, "fid": 3.0}})
    return folder


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags, self.headings = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        if self.tags and self.tags[-1] in ("h1", "h2", "h3"):
            self.headings.append(data)


def check_links(out):
    md = (out / "report.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", md)
    assert links
    for link in links:
        assert (out / link).read_bytes()[:8] == PNG
    page = Page()
    page.feed((out / "report.html").read_text())
    page.close()
    assert page.tags[0] == "html" and "h1" in page.tags
    for ref in page.refs:  # figures inside the page; links to the tables beside it; anchors within it
        if ref.startswith("data:image/png;base64,") or ref.startswith("#"):
            continue
        assert (out / ref).is_file(), ref
    assert sum(r.startswith("data:image/png") for r in page.refs) == len(links)  # every figure embedded
    return md, page


def test_tables_paper_columns_figures_and_links(results_dir, tmp_path):
    out = tmp_path / "report"
    md = write_report(results_dir, out_dir=out).read_text()
    best = pd.read_csv(out / "tables" / "best.csv")
    assert list(best["regularizer"]) == ["real data (held-out test, n=5000)", "spectral_norm", "wgan_gp", "none"]
    sn = best[best["regularizer"] == "spectral_norm"].iloc[0]
    assert float(sn["best FID (inception-v3-compat)"]) == 30.0 and sn["FID setting"] == "A"
    assert set(best["FID rank"][1:]) == {"1"}  # one seed each: nothing is beyond an interval, so all tie
    assert sn["paper IS"] == "7.42 ± 0.08" and float(sn["paper FID"]) == 29.3  # Table 2, CIFAR-10, standard CNN
    assert best.iloc[0]["paper IS"] == "11.24 ± 0.12"  # the paper's real-data row
    runs = pd.read_csv(out / "tables" / "runs.csv")
    assert (runs["status"] == "diverged").sum() == 1 and len(runs) == 6
    assert sorted(runs["precision"].astype(str)) == ["-", "-", "0.50", "0.50", "0.50", "0.50"]  # 4 scored
    precision = pd.read_csv(out / "tables" / "precision_per_setting.csv", dtype=str).set_index("regularizer")
    assert precision.loc["spectral_norm", "A"] == "0.50" and precision.loc["wgan_gp", "D"] == "diverged"
    assert "k = 3 nearest neighbours" in md
    # the verdicts over training: each run's history has FIDs at 50 and 100 of its 100 updates, so 1/2 is read
    # and 1/4 said to be missing
    over = pd.read_csv(out / "tables" / "findings_over_training.csv")
    assert set(over["at 1/4 of training"]) == {"no FID recorded"} and over["at 1/2 of training"].notna().all()
    sn_table = pd.read_csv(out / "tables" / "spectral_norms.csv")
    assert set(sn_table["regularizer"]) == {"spectral_norm", "wgan_gp", "none"}
    for name in FIGURES:
        assert f"figures/{name}.png" in md
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    check_links(out)
    assert "paper" in md and "Miyato" in md and "Missing runs" not in md


def test_the_cost_section_warns_when_times_come_from_several_machine_boots(results_dir, tmp_path):
    md = write_report(results_dir, out_dir=tmp_path / "one").read_text()
    assert "machine boots" not in md  # the fixture records no boot: nothing to warn of
    for i, path in enumerate(sorted(results_dir.glob("*.json"))):
        data = json.loads(path.read_text())
        data["environment"]["boot_id"] = f"boot-{i % 2}"
        path.write_text(json.dumps(data))
    md = write_report(results_dir, out_dir=tmp_path / "two").read_text()
    assert "**These times come from 2 machine boots**" in md.split("## Cost")[1].split("## Training")[0]


def test_robustness_tables_name_diverged_and_failed_runs(results_dir, tmp_path):
    write_report(results_dir, out_dir=tmp_path / "r")
    fid = pd.read_csv(tmp_path / "r" / "tables" / "fid_per_setting.csv", dtype=str).set_index("regularizer")
    assert fid.loc["spectral_norm", "A"] == "30.00" and fid.loc["spectral_norm", "D"] == "35.00"
    assert fid.loc["wgan_gp", "D"] == "diverged" and fid.loc["none", "D"] == "failed"
    is_ = pd.read_csv(tmp_path / "r" / "tables" / "is_per_setting.csv", dtype=str).set_index("regularizer")
    assert is_.loc["spectral_norm", "D"] == "5.00" and is_.loc["wgan_gp", "D"] == "diverged"


def test_cost_table_gives_the_ratio_to_none(results_dir, tmp_path):
    write_report(results_dir, out_dir=tmp_path / "r")
    cost = pd.read_csv(tmp_path / "r" / "tables" / "cost.csv", dtype=str).set_index("regularizer")
    assert cost.loc["spectral_norm", "A"] == "12.50 (1.25x)" and cost.loc["wgan_gp", "A"] == "20.00 (2.00x)"
    assert cost.loc["none", "A"] == "10.00 (1.00x)"
    assert cost.loc["wgan_gp", "D"] == "12.50 (1.00x)"  # a diverged run's updates are timed all the same
    assert cost.loc["wgan_gp", "x none, median"] == "1.50"


def test_latex_tables_escape_and_use_booktabs(results_dir, tmp_path):
    write_report(results_dir, out_dir=tmp_path / "r")
    tex = (tmp_path / "r" / "tables" / "best.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "spectral\\_norm" in tex and "$\\pm$" in tex
    assert "±" not in tex and tex.count("\\\\") == 5  # header and 4 rows
    for name in ("best", "is_per_setting", "fid_per_setting", "cost", "runs", "reproducibility", "settings"):
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / "r" / "tables" / f"{name}.{ext}").stat().st_size > 0, (name, ext)


def test_reproducibility_section_from_the_result_files(results_dir, tmp_path):
    write_report(results_dir, out_dir=tmp_path / "r")
    repro = pd.read_csv(tmp_path / "r" / "tables" / "reproducibility.csv", dtype=str).set_index("what")
    col = repro["synthetic"]
    assert col["regbench commit"] == "0123456789" and col["suite file sha256"] == "abc123"
    assert col["torch"] == "2.14.1" and col["torch-fidelity"] == "0.4.0" and col["python"] == "3.11.7"
    assert col["feature extractor"] == "inception-v3-compat (weights sha256 feedbeef)"
    assert col["scoring protocol"] == "IS 5000 samples / 10 splits; FID 5000 fake vs 10000 real (train)"
    assert col["runs finished"] == "2026-11-30 to 2026-11-30" and col["device"] == "cpu (x86_64)"


def test_a_sweep_still_running_reports_what_it_has_and_lists_the_rest(tmp_path):
    folder = tmp_path / "results" / "partial"
    rows = [result("none", "A", fid=50.0, suite="partial"), result("spectral_norm", "A", fid=30.0, suite="partial")]
    planned = [{"run_id": "wgan_gp-A-s0", "regularizer": "wgan_gp", "setting": "A", "seed": 0},
               {"run_id": "wgan_gp-B-s0", "regularizer": "wgan_gp", "setting": "B", "seed": 0}]
    write_folder(folder, rows, planned=planned)
    (folder / CHECKPOINT_DIR).mkdir()
    (folder / CHECKPOINT_DIR / "wgan_gp-A-s0.pt").write_bytes(b"state")
    md = write_report(folder, out_dir=tmp_path / "r").read_text()
    assert "2 of 4 planned runs have no result yet" in md
    missing = pd.read_csv(tmp_path / "r" / "tables" / "missing.csv").set_index("run_id")
    assert missing.loc["wgan_gp-A-s0", "state"] == "in progress" and missing.loc["wgan_gp-B-s0", "state"] == "not started"
    check_links(tmp_path / "r")


def test_a_checkpointed_fused_group_shows_its_runs_in_progress(tmp_path):
    folder = tmp_path / "results" / "partial"
    rows = [result("none", "A", fid=50.0, suite="partial")]
    planned = [{"run_id": f"wgan_gp-A-s{s}", "regularizer": "wgan_gp", "setting": "A", "seed": s} for s in range(3)]
    groups = [{"id": "wgan_gp-A-s0-x2-abc", "members": ["wgan_gp-A-s0", "wgan_gp-A-s1"],
               "checkpoint": "group-wgan_gp-A-s0-x2-abc.pt"},
              {"id": "wgan_gp-A-s2", "members": ["wgan_gp-A-s2"], "checkpoint": "wgan_gp-A-s2.pt"}]
    write_folder(folder, rows, planned=planned, groups=groups)
    (folder / CHECKPOINT_DIR).mkdir()
    (folder / CHECKPOINT_DIR / "group-wgan_gp-A-s0-x2-abc.pt").write_bytes(b"state")
    write_report(folder, out_dir=tmp_path / "r")
    missing = pd.read_csv(tmp_path / "r" / "tables" / "missing.csv").set_index("run_id")["state"]
    assert dict(missing) == {"wgan_gp-A-s0": "in progress", "wgan_gp-A-s1": "in progress",
                             "wgan_gp-A-s2": "not started"}


def test_several_suites_in_one_report(results_dir, tmp_path):
    other = write_folder(tmp_path / "results" / "beyond", [
        {**result("none", "A", fid=45.0, suite="beyond"), "run_id": "none-A-s0-otherconfig"},
        result("spectral_norm", "A", fid=30.0, suite="beyond"),  # the same run as synthetic's: shown once
        result("r1", "A", fid=20.0, suite="beyond"),
        result("r1", "A", fid=25.0, seed=1, suite="beyond", dataset="digits", extractor="digits-cnn")])
    out = tmp_path / "both"
    md = write_report([results_dir, other], out_dir=out).read_text()
    _, page = check_links(out)
    # cifar10/inception and digits/digits-cnn scores are not comparable: two sections, each with its tables
    assert "cifar10 32px, standard_cnn, scored with inception-v3-compat" in page.headings
    assert "digits 32px, standard_cnn, scored with digits-cnn" in page.headings
    best = pd.read_csv(out / "tables" / "cifar10-32px-standard_cnn-inception-v3-compat-best.csv")
    regs = list(best["regularizer"])
    assert regs[1] == "r1" and {"none [synthetic]", "none [beyond]", "spectral_norm", "wgan_gp"} <= set(regs)
    assert regs.count("spectral_norm") == 1 and len(regs) == 6  # real data, r1, sn, wgan_gp, none x2
    assert "1 run appears in more than one suite" in md
    digits = pd.read_csv(out / "tables" / "digits-32px-standard_cnn-digits-cnn-best.csv")
    assert list(digits["regularizer"]) == ["r1"] and "paper IS" not in digits.columns
    repro = pd.read_csv(out / "tables" / "reproducibility.csv")
    assert list(repro.columns) == ["what", "synthetic", "beyond"]
    assert "regbench report" in md and "beyond" in md


def test_digits_reports_have_no_paper_columns(results_dir, tmp_path):
    for path in results_dir.glob("*.json"):
        data = json.loads(path.read_text())
        data["feature_extractor"] = "digits-cnn"
        path.write_text(json.dumps(data))
    write_report(results_dir, out_dir=tmp_path / "r")
    assert "paper IS" not in pd.read_csv(tmp_path / "r" / "tables" / "best.csv").columns


def test_several_seeds_give_medians_with_intervals(tmp_path):
    folder = tmp_path / "results" / "seeds"
    for seed, (is_mean, fid) in enumerate([(6.0, 30.0), (6.2, 32.0), (6.4, 34.0)]):
        row = result("spectral_norm", "A", fid=fid, is_mean=is_mean, seed=seed)
        write_result(folder, {**row, "suite": "seeds"})
    write_report(folder, out_dir=tmp_path / "r")
    best = pd.read_csv(tmp_path / "r" / "tables" / "best.csv")
    sn = best[best["regularizer"] == "spectral_norm"].iloc[0]
    # the median with its order-statistic interval: with 3 runs, their range (75% coverage, said in the text)
    assert sn["best IS (inception-v3-compat)"] == "6.20 [6.00, 6.40]"
    assert sn["best FID (inception-v3-compat)"] == "32.00 [30.00, 34.00] (3 runs)" and sn["trained"] == "3/3"
    assert sn["runs"] == 3
    fid = pd.read_csv(tmp_path / "r" / "tables" / "fid_per_setting.csv", dtype=str)
    assert fid.iloc[0]["A"] == "32.00 [30.00, 34.00] (3/3)"
    scores = pd.read_csv(tmp_path / "r" / "tables" / "scores.csv").iloc[0]
    # Student's t with 2 dof (mean +- 4.303 * std / sqrt(3)) stays in scores.csv, beside the median
    assert (scores["fid_ci_low"], scores["fid_ci_high"]) == pytest.approx((27.0316, 36.9684), abs=1e-3)
    assert (scores["fid_median"], scores["fid_median_coverage"]) == (32.0, 0.75)
    assert {"is_ci_low", "is_ci_high", "kid_ci_low", "kid_ci_high", "fid_iqm", "success_rate"} <= set(scores.index)
    assert "covers the median with probability 75%" in (tmp_path / "r" / "report.md").read_text()


def test_seeds_give_pairwise_ranks_budget_and_findings(tmp_path):
    folder = tmp_path / "results" / "three"
    rows = [result(reg, s, fid=fid + seed, seed=seed, sec=sec)
            for reg, fid, sec in (("spectral_norm", 20.0, 11.0), ("wgan_gp", 60.0, 20.0), ("none", 61.0, 10.0))
            for s in ("D", "E") for seed in range(3)]
    write_folder(folder, rows)
    md = write_report(folder, out_dir=tmp_path / "r").read_text()
    tables = tmp_path / "r" / "tables"
    pairs = pd.read_csv(tables / "pairwise.csv")
    assert list(pairs.columns) == ["setting", "a", "b", "p_a_better", "ci_low", "ci_high", "p_exact", "p_adjusted",
                                   "separated", "n_a", "n_b"]
    assert len(pairs) == 2 * 3 * 2  # two settings, every ordered pair of three
    sn_wgan = pairs[(pairs["a"] == "spectral_norm") & (pairs["b"] == "wgan_gp") & (pairs["setting"] == "D")].iloc[0]
    assert (sn_wgan["p_a_better"], sn_wgan["n_a"], sn_wgan["n_b"]) == (1.0, 3, 3)
    assert 0.4 < sn_wgan["ci_low"] < 0.6 and sn_wgan["ci_high"] == 1.0  # an interval, not the point [1, 1]
    assert sn_wgan["p_exact"] == pytest.approx(0.1) and not sn_wgan["separated"]  # P = 1, but 3 vs 3 runs
    best = pd.read_csv(tables / "best.csv", dtype=str).set_index("regularizer")
    assert set(best["FID rank"].dropna()) - {"-"} == {"1"}  # 3 seeds separate nothing: every rank ties
    budget = pd.read_csv(tables / "budget_long.csv")
    assert set(budget["k"]) == {1, 2} and (budget["runs"] == 6).all()
    findings = pd.read_csv(tables / "findings.csv").set_index("finding")
    verdicts = dict(zip(findings.index.str[:40], findings["verdict"]))
    # one-sided p = 0.05 at D and at E (3 vs 3: the least there is), each enough in an intersection-union test;
    # F is not in the results, and the verdict says so in its own words
    assert verdicts["At high learning rates (settings D, E, F"] == "reproduced at D, E (F: not in these results)"
    assert "2 reproduced (1 of them at part of the settings named)" in md  # and the cost finding
    assert verdicts["Weight clipping is worse than spectral n"] == "not applicable"
    summary = md.split("##")[1]
    assert "Paper's findings" in md and "In short" in summary and "no leader is named" in summary
    assert "leads" not in summary


def clean_sweep(folder, seeds, *, suite="clean", dataset="digits", extractor="digits-cnn", plan_extra=None):
    """spectral_norm beats wgan_gp, which beats none, on every seed pair at D; at F nothing trains."""
    rows = [{**result(reg, s, fid=fid + seed, seed=seed, suite=suite, dataset=dataset, extractor=extractor),
             "suite": suite} for reg, base in (("spectral_norm", 20.0), ("wgan_gp", 60.0), ("none", 100.0))
            for s, fid in (("D", base), ("F", base + 500)) for seed in range(seeds)]
    write_folder(folder, rows)
    if plan_extra:
        from benchmark.store import read_plan
        write_plan(folder, {**read_plan(folder), **plan_extra})
    return folder


def test_the_first_paragraph_names_a_leader_only_where_the_exact_test_separates_one(tmp_path):
    short = write_report(clean_sweep(tmp_path / "ten", 10), out_dir=tmp_path / "r10").read_text().split("##")[1]
    assert "at **D** `spectral_norm` leads" in short and "separated from every other regularizer" in short
    assert "at **F** nothing trained (no run below FID 150), so there is no leader" in short
    three = write_report(clean_sweep(tmp_path / "three", 3), out_dir=tmp_path / "r3").read_text().split("##")[1]
    assert "leads" not in three and "no pair is separated" in three and "no leader is named" in three
    findings = pd.read_csv(tmp_path / "r10" / "tables" / "findings.csv").set_index("finding")
    row = findings[findings.index.str.startswith("At high learning rates")].iloc[0]
    assert row["verdict"] == "reproduced at D (E: not in these results; F: nothing trained)"
    assert "E not in these results" in row["scope"] and "at F" in row["scope"]


def test_the_success_threshold_comes_from_the_flag_then_the_suite_then_the_dataset(tmp_path):
    folder = clean_sweep(tmp_path / "r", 3)
    write_report(folder, out_dir=tmp_path / "default")
    scores = pd.read_csv(tmp_path / "default" / "tables" / "scores.csv").set_index(["regularizer", "setting"])
    assert scores.loc[("none", "D"), "successes"] == 3  # FIDs 100-102, below digits' 150
    md = (tmp_path / "default" / "report.md").read_text()
    assert "below **150** (the default for this dataset" in md
    clean_sweep(folder, 3, plan_extra={"success_fid": 80})
    write_report(folder, out_dir=tmp_path / "suite")
    scores = pd.read_csv(tmp_path / "suite" / "tables" / "scores.csv").set_index(["regularizer", "setting"])
    assert scores.loc[("none", "D"), "successes"] == 0 and scores.loc[("wgan_gp", "D"), "successes"] == 3
    assert "below **80** (the suite's success_fid" in (tmp_path / "suite" / "report.md").read_text()
    write_report(folder, out_dir=tmp_path / "flag", success_fid=61.5)
    scores = pd.read_csv(tmp_path / "flag" / "tables" / "scores.csv").set_index(["regularizer", "setting"])
    assert scores.loc[("wgan_gp", "D"), "successes"] == 2  # 60, 61 below 61.5; 62 not
    md = (tmp_path / "flag" / "report.md").read_text()
    assert "below **61.5** (set with --success-fid" in md and "--success-fid 61.5" in md  # and in the command
    unknown = clean_sweep(tmp_path / "folder", 3, dataset="folder", extractor="inception-v3-compat")
    md = write_report(unknown, out_dir=tmp_path / "none").read_text()
    assert "No success threshold is known" in md


CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
# What a page that failed to load or render would leave in Chromium's log (its dbus noise is not that)
PAGE_ERRORS = re.compile(r"CONSOLE|Uncaught|net::ERR_|Not allowed to load local resource|Failed to load")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install "
                                             "chromium; .ci/run installs it so CI runs this)")
def test_report_html_opens_from_disk_in_headless_chromium(results_dir, tmp_path):
    out = tmp_path / "report"
    write_report(results_dir, out_dir=out)
    url = (out / "report.html").resolve().as_uri()
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    shot = tmp_path / "shot.png"
    run = subprocess.run([*base, "--hide-scrollbars", "--window-size=1280,2000", f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not PAGE_ERRORS.findall(run.stderr), run.stderr[-2000:]
    image = plt.imread(shot)
    assert image.shape[:2] == (2000, 1280) and image[..., :3].std() > 0.05  # drawn, not a blank page
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0 and "regbench report: synthetic" in dom.stdout and "Reproducibility" in dom.stdout
    assert dom.stdout.count("<img") == len(FIGURES)


def test_a_random_search_report_reads_with_many_settings(tmp_path):
    from benchmark.suite import expand, parse_suite

    raw = {"dataset": "digits", "regularizers": ["spectral_norm", "wgan_gp"], "steps": 10, "seeds": [0, 1],
           "settings": [{"random": {"n": 20, "seed": 0, "lr": {"log_uniform": [1e-5, 1e-2]},
                                    "n_dis": {"choice": [1, 5]}}, "base": "D"}]}
    folder = tmp_path / "results" / "search"
    rows = []
    for spec in expand(parse_suite(raw, path="s", default_name="search")):
        fid = 50.0 + 1e4 * abs(spec.lr - 1e-3) + spec.seed + (30 if spec.label == "wgan_gp" else 0)
        row = result(spec.label, spec.setting, fid=fid, seed=spec.seed, suite="search")
        rows.append({**row, "lr": spec.lr, "n_dis": spec.n_dis, "beta1": spec.beta1, "beta2": spec.beta2,
                     "run_id": spec.run_id})
    rows[0] = {**rows[0], "status": "diverged", "fid": None}
    write_folder(folder, rows)
    out = tmp_path / "r"
    md = write_report(folder, out_dir=out).read_text()
    for name in ("fid_per_setting", "is_per_setting", "budget"):
        assert f"figures/{name}.png" in md and (out / "figures" / f"{name}.png").stat().st_size > 1000
    assert "figures/pairwise.png" not in md and "figures/time_per_100_updates.png" not in md
    top = pd.read_csv(out / "tables" / "top_settings.csv")
    assert len(top) == 2 * 3 and list(top["#"][:3]) == [1, 2, 3]
    full = pd.read_csv(out / "tables" / "fid_per_setting.csv")
    assert full.shape == (2, 1 + 20)  # every setting still in the CSV
    assert "| lr=" not in md  # no regularizer x 20-setting table in the page
    budget = pd.read_csv(out / "tables" / "budget_long.csv")
    assert set(budget["k"]) == set(range(1, 21))
    check_links(out)
    assert "`spectral_norm` (" in md.split("##")[1] and "rank" in md.split("##")[1]
    one_seed = write_folder(tmp_path / "results" / "one", [r for r in rows if r["seed"] == 0])
    short = write_report(one_seed, out_dir=tmp_path / "r1").read_text().split("##")[1]
    assert "no test, so no ranking" in short and "`spectral_norm` has the lowest FID" in short


def test_runs_scored_by_two_networks_of_one_name_are_two_comparisons(tmp_path):
    """The digits-paper case: one extractor name, two weights (trained on two CPUs). No cell, pairwise test or
    finding may pool them; the report says why they are apart, and load_results has the hash as a column."""
    from benchmark import load_results

    folder = tmp_path / "results" / "mixed"
    rows = []
    for weights, regs in (("aaaa1111", ("spectral_norm", "none")), ("bbbb2222", ("spectral_norm", "wgan_gp"))):
        for reg in regs:
            for seed in range(3):
                row = result(reg, "D", fid=20.0 + 10 * (reg != "spectral_norm") + seed, seed=seed,
                             dataset="digits", extractor="digits-cnn")
                row["run_id"] = f"{reg}-D-s{seed}-{weights}"
                row["protocol"] = {**row["protocol"], "feature_extractor_weights_sha256": weights}
                rows.append(row)
    write_folder(folder, rows)
    md = write_report(folder, out_dir=tmp_path / "r").read_text()
    assert "**Two instruments.**" in md and "`aaaa1111` (6 runs)" in md and "`bbbb2222` (6 runs)" in md
    tables = tmp_path / "r" / "tables"
    first = pd.read_csv(tables / "digits-32px-standard_cnn-digits-cnn-aaaa1111-pairwise.csv")
    second = pd.read_csv(tables / "digits-32px-standard_cnn-digits-cnn-bbbb2222-pairwise.csv")
    assert set(first["a"]) | set(first["b"]) == {"spectral_norm", "none"}
    assert set(second["a"]) | set(second["b"]) == {"spectral_norm", "wgan_gp"}
    best = pd.read_csv(tables / "digits-32px-standard_cnn-digits-cnn-aaaa1111-best.csv")
    assert best.loc[best["regularizer"] == "spectral_norm", "runs"].iloc[0] == 3  # not 6: not pooled
    df = load_results(folder)
    assert df.groupby("feature_extractor_weights").size().to_dict() == {"aaaa1111": 6, "bbbb2222": 6}
    assert {"feature_extractor", "feature_extractor_weights"} <= set(df.columns[:25])  # among the first columns


def test_a_clean_ten_seed_separation_ranks_the_best_alone_first(tmp_path):
    """Ten runs a cell, spectral norm below WGAN-GP below none on every pair at D: the rank separates all three
    (on the held-out five alone, Holm would leave every rank tied at 1)."""
    write_report(clean_sweep(tmp_path / "ten", 10), out_dir=tmp_path / "r")
    best = pd.read_csv(tmp_path / "r" / "tables" / "best.csv", dtype=str).set_index("regularizer")
    assert best.loc["spectral_norm", "FID rank"] == "1"
    assert best.loc["wgan_gp", "FID rank"] == "2" and best.loc["none", "FID rank"] == "3"


def test_success_is_read_again_at_three_thresholds(tmp_path):
    folder = tmp_path / "results" / "edge"
    rows = [result(reg, "D", fid=fid, seed=seed, dataset="digits", extractor="digits-cnn")
            for reg, fids in (("a", [100, 130, 140]), ("b", [120, 160, 210])) for seed, fid in enumerate(fids)]
    write_folder(folder, rows)
    write_report(folder, out_dir=tmp_path / "r")
    t = pd.read_csv(tmp_path / "r" / "tables" / "success_sensitivity.csv").set_index("regularizer")
    # at 112.5: a 1, b 0; at 150: a 3, b 1; at 225: both 3 (tied first)
    assert (t.loc["a", "trained below 112.5"], t.loc["b", "trained below 112.5"]) == ("1/3", "0/3")
    assert (t.loc["a", "trained below 150"], t.loc["b", "trained below 150"]) == ("3/3", "1/3")
    assert (t.loc["a", "rank at 225"], t.loc["b", "rank at 225"]) == (1, 1) and t.loc["b", "rank at 150"] == 2


def test_each_superiority_finding_is_read_on_kid_beside_fid(tmp_path):
    folder = clean_sweep(tmp_path / "ten", 10)
    for path in folder.glob("*.json"):  # KID follows FID's order, except that it ties spectral norm with WGAN-GP
        data = json.loads(path.read_text())
        if data["status"] == "ok":
            data["kid_mean"] = 0.5 if data["regularizer"] in ("spectral_norm", "wgan_gp") else data["fid"] / 10
            path.write_text(json.dumps(data))
    write_report(folder, out_dir=tmp_path / "r")
    f = pd.read_csv(tmp_path / "r" / "tables" / "findings_long.csv").set_index("id")
    assert f.loc["sn_beats_wgan_gp_at_high_lr", "verdict"] == "reproduced"
    assert f.loc["sn_beats_wgan_gp_at_high_lr", "verdict on KID"].startswith("inconclusive")  # tied on KID
    assert f.loc["sn_not_inferior_to_best", "verdict on KID"] == "-"  # a ratio claim: not read on KID


def test_the_critical_difference_figure_is_the_same_bytes_in_every_process(tmp_path):
    """scikit-posthocs orders a bar's points by a set of the labels, which string hashing reorders from one
    process to the next; the figure must not change with it, or no report regenerates byte for byte."""
    import subprocess
    import sys

    code = ("import json, sys; from pathlib import Path; from benchmark.report.tables import runs_frame; "
            "from benchmark.report.comparisons import critical_difference; from benchmark.report.figures import "
            "critical_difference as draw; "
            "cd = critical_difference(runs_frame(json.loads(Path(sys.argv[1]).read_text()))); "
            "draw(cd, path=Path(sys.argv[2]), colour_of={r: (0.2, 0.4, 0.6) for r in cd['ranks'].index})")
    rows = [{"regularizer": r, "setting": s, "seed": seed, "status": "ok", "fid": fid}
            for r, base in (("alpha", 10.0), ("beta", 11.0), ("gamma", 30.0), ("delta", 31.0), ("eps", 32.0))
            for s in "ABCD" for seed, fid in enumerate([base + "ABCD".index(s), base + 0.5])]
    data = tmp_path / "runs.json"
    data.write_text(json.dumps(rows))
    images = []
    for hash_seed in ("1", "2", "3"):
        out = tmp_path / f"cd{hash_seed}.png"
        run = subprocess.run([sys.executable, "-c", code, str(data), str(out)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        images.append(out.read_bytes())
    assert images[0] == images[1] == images[2]
