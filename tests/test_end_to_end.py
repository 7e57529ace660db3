"""A tiny suite through `regbench run` and `regbench report`, as a user runs them."""
import json
import re
import subprocess
import sys
from pathlib import Path

from benchmark.launch import run_suite
from benchmark.store import REQUIRED_FIELDS
from benchmark.suite import load_suite


def regbench(*args, cwd):
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=cwd, capture_output=True, text=True)


def test_run_then_report(write_suite, tmp_path):
    suite = write_suite({"regularizers": ["spectral_norm", "none"]})
    run = regbench("run", str(suite), "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "4 runs done (4 ok" in run.stdout
    files = sorted((tmp_path / "results" / "tiny").glob("*.json"))
    assert len(files) == 4
    for path in files:
        result = json.loads(path.read_text())
        assert set(REQUIRED_FIELDS) <= set(result)
        assert result["status"] == "ok" and result["error"] is None
        assert result["feature_extractor"] == "digits-cnn"
        assert result["inception_score_mean"] >= 1.0 and result["fid"] > 0
        assert result["sec_per_100_updates"] > 0
        assert result["run_id"] == path.stem
        assert (path.parent / f"{path.stem}.samples.npz").exists()
        assert result["suite_sha256"] and result["finished"]
        assert "git_commit" in result["environment"] and result["environment"]["regbench"]
        boot = Path("/proc/sys/kernel/random/boot_id")  # which machine boot timed it (VMs share CPU names)
        assert result["environment"]["boot_id"] == (boot.read_text().strip() if boot.exists() else None)
    plan = json.loads((tmp_path / "results" / "tiny" / "plan" / "plan.json").read_text())
    assert sorted(r["run_id"] for r in plan["runs"]) == [p.stem for p in files]
    assert not list((tmp_path / "results").rglob("*.tmp"))

    again = regbench("run", str(suite), "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert again.returncode == 0 and "4 already finished" in again.stdout
    assert sorted((tmp_path / "results" / "tiny").glob("*.json")) == files

    rep = regbench("report", str(tmp_path / "results" / "tiny"), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", md)
    assert {"figures/is_per_setting.png", "figures/fid_per_setting.png", "figures/time_per_100_updates.png",
            "figures/samples.png"} <= set(links)
    for link in links:
        png = tmp_path / "report" / link
        assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "digits-cnn" in md and "spectral_norm" in md
    assert (tmp_path / "report" / "tables" / "runs.csv").exists()
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(links) and "Missing runs" not in md
    # the suite's order, not the files' alphabetical one
    best = (tmp_path / "report" / "tables" / "is_per_setting.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in best[1:]] == ["spectral_norm", "none"]


def test_report_of_nothing_is_a_clear_error(tmp_path):
    rep = regbench("report", str(tmp_path / "missing"), cwd=tmp_path)
    assert rep.returncode == 2 and "Traceback" not in rep.stderr and "regbench run" in rep.stderr
    (tmp_path / "empty").mkdir()
    rep = regbench("report", str(tmp_path / "empty"), cwd=tmp_path)
    assert rep.returncode == 2 and "Traceback" not in rep.stderr and "no result files" in rep.stderr


def test_diverged_and_failed_runs_do_not_stop_the_sweep(misbehaving_regularizers, write_suite, tmp_path):
    suite = load_suite(write_suite({"regularizers": ["test_nan_penalty", "test_raises", "none"], "settings": ["C"]}))
    summary = run_suite(suite, results_root=tmp_path, progress=False)
    assert summary.counts == {"ok": 1, "diverged": 1, "failed": 1}
    results = {json.loads(p.read_text())["regularizer"]: json.loads(p.read_text())
               for p in (tmp_path / "tiny").glob("*.json")}
    assert results["test_nan_penalty"]["status"] == "diverged"
    assert results["test_nan_penalty"]["fid"] is None
    assert results["test_raises"]["status"] == "failed"
    assert "boom in after_d_step" in results["test_raises"]["error"]
    (trace,) = (tmp_path / "tiny").glob("*.traceback.txt")
    assert trace.name.startswith("test_raises") and "Traceback" in trace.read_text()
    assert results["none"]["status"] == "ok"
