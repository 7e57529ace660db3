"""The Ray launcher on a real two-node cluster (`ray start` twice on this machine): a node lost mid-sweep
leaves its run unfinished, the rerun finishes it, and the results already written are not touched. The test
stops exactly the processes it started."""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmark.cli import main

ray = pytest.importorskip("ray")
RAY = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
# the head notices a dead node in ~2 s instead of ~30 s
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
               "RAY_health_check_initial_delay_ms": "1000"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(text: str) -> dict[int, str]:
    """pid -> command line of every process whose command line contains ``text``."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace") + " "
        except OSError:
            continue
        if text in cmdline and int(proc.name) != os.getpid():
            found[int(proc.name)] = cmdline
    return found


def alive_nodes(address: str, env: dict) -> int:
    out = subprocess.run([RAY, "status", f"--address={address}"], capture_output=True, text=True, timeout=60,
                         env=env)
    if out.returncode:
        return 0
    active = out.stdout.split("Active:")[1].split("Pending:")[0] if "Active:" in out.stdout else ""
    return sum("node_" in line for line in active.splitlines())


@pytest.fixture
def two_nodes():
    if not Path("/proc").is_dir():
        pytest.skip("finds the processes it started through /proc")
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="rb-ray-", dir="/tmp")  # Ray's socket paths must stay short

    def ours() -> dict[int, str]:  # every process of this cluster names its GCS port or its folder
        return {**processes_with(f":{port} "), **processes_with(temp)}
    # a cluster of our own token (Ray >= 2.5x turns token auth on for `ray start --head`); ~/.ray stays untouched
    env = {**os.environ, **FAST_HEALTH, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats", "--block"]
    started = [subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false",
                                 f"--temp-dir={temp}", *common], env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 90
        while not alive_nodes(address, env):
            assert time.time() < deadline, "the Ray head did not come up"
        started.append(subprocess.Popen([RAY, "start", f"--address={address}", "--resources={\"second\": 1}",
                                         *common], env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while alive_nodes(address, env) < 2:
            assert time.time() < deadline, "the second Ray node did not join"
        yield address, env
    finally:
        for proc in started:  # `ray start --block` takes its node's processes down with it, in its own time
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(5)
        for pid in ours():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in started:
            proc.wait(timeout=30)
        deadline = time.time() + 10
        while ours() and time.time() < deadline:
            time.sleep(0.2)
        left = ours()
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes outlived the test: {left}"


def second_raylet() -> int:
    (pid,) = [pid for pid, cmd in processes_with("raylet").items() if "second" in cmd and "/raylet" in cmd.split()[0]]
    return pid


def test_a_node_lost_mid_sweep_leaves_its_run_for_the_rerun(two_nodes, write_suite, tmp_path):
    suite = write_suite({"regularizers": ["none", "spectral_norm", "weight_norm"], "settings": ["C"], "steps": 300,
                         "batch_size": 32, "log_every": 20, "checkpoint_every": 10})
    folder = tmp_path / "results" / "tiny"
    address, env = two_nodes
    proc = subprocess.Popen([sys.executable, "-m", "benchmark", "run", str(suite), "--results",
                             str(tmp_path / "results"), "--quiet", "--launcher", "ray", "--ray-address", address,
                             "--workers", "2", "--cpus-per-run", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 180
    while len(list((folder / "checkpoints").glob("*.pt"))) < 2:  # a run in progress on each node
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(second_raylet(), signal.SIGKILL)  # as a node lost to hardware or the OOM killer
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    assert "lost (run again to finish them)" in out and "ray: run" in err
    finished = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    lost = 3 - len(finished)
    assert lost >= 1 and not list(folder.glob("*.tmp*"))
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    after = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    assert len(after) == 3 and all(after[name] == data for name, data in finished.items())  # not redone
    rerun = [json.loads(after[name]) for name in set(after) - set(finished)]
    assert all(r["status"] == "ok" for r in rerun) and any(r["resumed_from_step"] for r in rerun)
