"""A sweep survives a SIGKILL, and two drivers never share a results folder."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.lock import FolderLock


def start(suite, results, *extra):
    return subprocess.Popen([sys.executable, "-m", "benchmark", "run", str(suite), "--results", str(results),
                             "--quiet", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_sweep_then_rerun_finishes_each_run_once(write_suite, tmp_path):
    suite = write_suite({"steps": 40, "log_every": 5, "checkpoint_every": 5})
    folder = tmp_path / "results" / "tiny"
    proc = start(suite, tmp_path / "results")
    deadline = time.time() + 120
    while time.time() < deadline and not list(folder.glob("*.json")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (first,) = folder.glob("*.json")  # killed before a second run finished
    first_bytes = first.read_bytes()
    done = main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"])
    assert done == 0
    results = sorted(folder.glob("*.json"))
    assert len(results) == 4
    assert first.read_bytes() == first_bytes  # not redone
    leftovers = [p for p in folder.rglob("*") if p.is_file() and (".tmp" in p.name or p.suffix == ".pt")]
    assert leftovers == []


def test_sigkill_of_a_fused_sweep_then_rerun_resumes_its_groups(write_suite, tmp_path):
    # 2 seeds per cell, fused in pairs: 4 groups of 2, each checkpointed as one
    suite = write_suite({"steps": 40, "log_every": 5, "checkpoint_every": 5, "seeds": [0, 1], "fuse": 2})
    folder = tmp_path / "results" / "tiny"
    proc = start(suite, tmp_path / "results")
    deadline = time.time() + 120
    while time.time() < deadline and len(list(folder.glob("*.json"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = {p: p.read_bytes() for p in folder.glob("*.json")}
    assert len(first) == 2  # one group's two results: they are written together
    groups = {json.loads(b)["fused"]["group"] for b in first.values()}
    assert len(groups) == 1
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    results = {p: json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert len(results) == 8 and all(r["status"] == "ok" and r["fused"]["size"] == 2 for r in results.values())
    assert all(p.read_bytes() == b for p, b in first.items())  # not redone
    leftovers = [p for p in folder.rglob("*") if p.is_file() and (".tmp" in p.name or p.suffix == ".pt")]
    assert leftovers == []


def test_a_second_driver_on_the_same_folder_is_refused(write_suite, tmp_path, capsys):
    suite = write_suite()
    with FolderLock(tmp_path / "results" / "tiny"):
        code = main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 3 and "in use by another `regbench run`" in err and f"pid {os.getpid()}" in err
    assert not list((tmp_path / "results" / "tiny").glob("*.json"))
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0  # released


def _ray_run_processes():
    """pids of Ray workers executing a run: Ray retitles a busy worker `ray::<task name>`."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "cmdline").read_bytes().startswith(b"ray::remote_run"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's worker processes through /proc")
def test_a_ray_worker_lost_mid_group_leaves_its_runs_unfinished_for_the_next_run(write_suite, tmp_path):
    # fused groups of 2 seeds, one Ray task each (a solo run's loss: tests/test_ray_cluster.py's lost node)
    pytest.importorskip("ray")
    suite = write_suite({"steps": 300, "log_every": 50, "checkpoint_every": 10, "seeds": [0, 1], "fuse": 2})
    folder = tmp_path / "results" / "tiny"
    proc = start(suite, tmp_path / "results", "--launcher", "ray", "--workers", "2")
    deadline, victim = time.time() + 180, None
    while time.time() < deadline and victim is None and proc.poll() is None:
        # both workers past their first checkpoint: whichever is killed has one to resume from
        if len(list((folder / "checkpoints").glob("*.pt"))) == 2 and _ray_run_processes():
            victim = _ray_run_processes()[0]
        time.sleep(0.05)
    assert victim, "no Ray worker was seen running a group"
    os.kill(victim, signal.SIGKILL)  # as the OOM killer or a lost node would
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "lost (run again to finish them)" in out and "WorkerCrashedError" in err and "fused group" in err
    lost = 8 - len(list(folder.glob("*.json")))
    assert lost >= 2 and lost % 2 == 0 and not list(folder.glob("*.tmp*"))  # a group's runs go together
    kept = {p.stem.removeprefix("group-") for p in (folder / "checkpoints").glob("*.pt")}  # the lost group's
    assert kept
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    assert len(records) == 8 and all(r["status"] == "ok" and r["fused"]["size"] == 2 for r in records)
    resumed = [r for r in records if r["fused"]["group"] in kept]
    assert len(resumed) == 2 * len(kept) and all(r["resumed_from_step"] for r in resumed)  # where it was lost


@pytest.mark.parametrize("fuse", [1, 2])
def test_ctrl_c_of_a_worker_sweep_stops_every_run_and_starts_no_queued_one(write_suite, tmp_path, fuse):
    # six units of work on two workers (runs, or fused groups of two seeds): Ctrl-C (SIGINT to the process
    # group, as a terminal sends it) while the first two train must checkpoint those two and start none of
    # the four queued behind them
    seeds = list(range(fuse))
    suite = write_suite({"regularizers": ["none", "spectral_norm", "weight_norm"], "steps": 3000, "log_every": 10,
                         "checkpoint_every": 10, "seeds": seeds, "fuse": fuse})
    folder = tmp_path / "results" / "tiny"
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from benchmark.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "run", str(suite), "--results", str(tmp_path / "results"),
                             "--quiet", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((folder / "checkpoints").glob("*.pt"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the sweep went on after Ctrl-C")
    assert proc.returncode == 130 and "interrupted" in err
    assert list(folder.glob("*.json")) == []  # 3,000 updates each: nothing finished
    saved = list((folder / "checkpoints").glob("*.pt"))
    assert len(saved) == 2  # the two running runs or groups, stopped and saved
    assert all(p.name.startswith("group-") == (fuse > 1) for p in saved)
