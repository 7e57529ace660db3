import os
import time
from pathlib import Path

import pytest
import yaml

# One classifier/reference cache for the whole test session (trained once, then read).
os.environ.setdefault("REGBENCH_CACHE", str(Path(__file__).resolve().parents[1] / ".cache" / "regbench"))

TINY_SUITE = {
    "dataset": "digits",
    "image_size": 8,
    "width": 0.125,
    "regularizers": ["none", "spectral_norm"],
    "settings": ["C", "D"],
    "steps": 4,
    "batch_size": 8,
    "log_every": 2,
    "fuse": 1,  # existing tests read solo runs; fuse auto has its own tests (test_fusing.py)
    "evaluation": {"is_samples": 100, "is_splits": 2, "fid_real": 200, "fid_fake": 100, "sample_grid": 16},
}


@pytest.fixture
def write_suite(tmp_path):
    def write(overrides=None, *, name="tiny", drop=()):
        data = {**TINY_SUITE, **(overrides or {})}
        for key in drop:
            data.pop(key)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


# launcher tests must not leave a Ray process behind (a ray.init() instance, a `ray start` node, a worker)
LAUNCHER_TESTS = {"test_launchers", "test_fault_tolerance", "test_ray_cluster", "test_slurm"}
RAY_PROCESS = ("gcs_server", "/raylet", "ray::", "default_worker.py", "ray/dashboard/", "ray/autoscaler/",
               "runtime_env/agent/")


def _ray_processes() -> dict[int, str]:
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in RAY_PROCESS):
            found[int(proc.name)] = cmdline[:200]
    return found


@pytest.fixture(autouse=True)
def no_stray_ray_processes(request):
    if request.module.__name__.rsplit(".", 1)[-1] not in LAUNCHER_TESTS or not Path("/proc").is_dir():
        yield
        return
    before = set(_ray_processes())
    yield
    deadline = time.time() + 20  # ray.shutdown() returns before its processes have exited
    while (new := {p: c for p, c in _ray_processes().items() if p not in before}) and time.time() < deadline:
        time.sleep(0.3)
    assert not new, f"the test left Ray processes running: {new}"


@pytest.fixture
def misbehaving_regularizers():
    """Two regularizers: one whose penalty turns D's loss to NaN (its runs diverge), one that raises (they fail)."""
    import torch

    from benchmark.regularizers import REGULARIZERS, Regularizer, register_regularizer

    @register_regularizer("test_nan_penalty")
    class NaNPenalty(Regularizer):
        def penalty(self, *, discriminator, real, fake):
            return torch.tensor(float("nan"))

    @register_regularizer("test_raises")
    class Raises(Regularizer):
        def after_d_step(self, discriminator):
            raise RuntimeError("boom in after_d_step")

    yield
    for name in ("test_nan_penalty", "test_raises"):
        REGULARIZERS._entries.pop(name), REGULARIZERS._origins.pop(name)


def tensorboard_events(run_dir):
    """A run's TensorBoard event files, read back as TensorBoard reads them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def tensorboard_scalars(acc, tag) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture
def assert_logged():
    """check(run_dir, record): the run's TensorBoard folder holds its losses as recorded and its final FID."""
    def check(run_dir, record):
        acc = tensorboard_events(run_dir)
        assert [v for _, v in tensorboard_scalars(acc, "loss/D")] == pytest.approx(record["history"]["d_loss"],
                                                                                   rel=1e-6)
        assert tensorboard_scalars(acc, "final/fid")[0][1] == pytest.approx(record["fid"], rel=1e-6)

    return check
