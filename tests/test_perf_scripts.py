"""The benchmark scripts run end to end (at a tiny size, on the CPU), so a GPU session finds them working."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_speed_table_smoke_on_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    run = subprocess.run([sys.executable, "scripts/gpu_speed.py", "--device", "cpu", "--width", "0.03125",
                          "--updates", "1", "--reps", "1", "--out", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    text = out.read_text()
    for name in ("regularizer cost, none ", "regularizer cost, spectral_norm ", "regularizer cost, wgan_gp ",
                 "regularizer cost, orthonormal ", "harness overhead, wgan_gp ", "spectral norm: ours vs torch",
                 "spectral_norm with bf16"):
        assert f"| {name}" in text, name
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert len(rows) >= 14 and all(re.search(r"\| \d+\.\d+x[^|]*\|$", row) for row in rows)  # a ratio per row
    fused = subprocess.run([sys.executable, "scripts/gpu_speed.py", "--device", "cpu", "--width", "0.03125",
                            "--fused-only", "--updates", "1", "--reps", "1", "--out", str(tmp_path / "f.md")],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert fused.returncode == 0, fused.stderr[-3000:]
    text = (tmp_path / "f.md").read_text()
    for name in ("none", "spectral_norm", "wgan_gp"):
        for k in (1, 4, 16):
            assert f"| fused {k} seeds, {name} (n_dis 5" in text, (name, k)


def test_gpu_check_says_why_it_stops_without_a_gpu():
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: scripts/gpu_check.sh runs for real")
    run = subprocess.run(["bash", "scripts/gpu_check.sh", "/dev/null"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode != 0 and "no CUDA GPU visible to torch" in run.stderr


def test_make_perf_writes_its_table_with_the_machine(tmp_path):
    out = tmp_path / "perf.md"
    run = subprocess.run([sys.executable, "scripts/perf.py", "--only", "overhead", "cache", "--reps", "1",
                          "--updates", "2", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    text = out.read_text()
    assert text.startswith("# regbench performance") and "Machine: " in text
    for name in ("none", "spectral_norm", "wgan_gp"):
        assert f"| harness overhead, {name} " in text and "bare loop: " in text, name
    assert "| reference statistics" in text and "saves " in text
    assert "| regularizer cost" not in text  # --only keeps to the rows asked for
    # a second --only run into the same file replaces its kind's rows in place and keeps the others
    again = subprocess.run([sys.executable, "scripts/perf.py", "--only", "cache", "--reps", "1", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = [line.split("|")[1].strip() for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| what")]
    assert [r.split(",")[0] for r in rows] == ["harness overhead"] * 3 + ["reference statistics (digits train"]
    when = next(line for line in out.read_text().splitlines() if line.startswith("Measured "))
    assert when.count("Measured ") == 1 and "rows cache on " in when and "`scripts/perf.py --only cache`" in when
