"""A sweep survives a SIGKILL, and two drivers never share a results folder."""
import os
import signal
import subprocess
import sys
import time

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


def test_a_second_driver_on_the_same_folder_is_refused(write_suite, tmp_path, capsys):
    suite = write_suite()
    with FolderLock(tmp_path / "results" / "tiny"):
        code = main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 3 and "in use by another `regbench run`" in err and f"pid {os.getpid()}" in err
    assert not list((tmp_path / "results" / "tiny").glob("*.json"))
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0  # released
