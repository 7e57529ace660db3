"""`make perf`: measured speed and memory, side by side with the simplest alternatives.

Not a test: it prints a table and writes reports/perf/perf.md with the machine it ran on.
Each row is measured in this one process, alternating ours and theirs, several repetitions;
the table shows the median and the spread (min-max).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch_fidelity

import perf_training  # noqa: E402  (scripts/ is on sys.path when this file runs)
from benchmark import scorers
from benchmark.data import load_images
from benchmark.metrics import ImageTensor, Scorer, write_random_inception
from benchmark.schema import Evaluation

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def spread(xs: list[float]) -> str:
    return perf_training.spread(xs, digits=3)


def scoring_rows(args, tmp: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    cases = [("digits-cnn, 8px", 8, 5000, None)]
    if args.inception:  # about 6 images/s on a 2-core CPU: a GPU row
        cases.append(("Inception (random weights), 32px", 32, 500, str(write_random_inception(tmp / "inc.pth"))))
    for label, size, n, weights in cases:
        real = load_images("digits", split="all", size=size)
        if weights:  # Inception wants 3 channels
            real = real.repeat(1, 3, 1, 1)
        fake = real[torch.randint(len(real), (n,), generator=torch.Generator().manual_seed(0))]
        ev = Evaluation(is_samples=n, is_splits=10, fid_real=len(real), fid_fake=n)
        scorer = Scorer(dataset="cifar10" if weights else "digits", image_size=size, evaluation=ev,
                        cache_dir=tmp / "cache", weights_path=weights)
        if weights:  # CIFAR-10 is a download: digits stand in as the real set, same pipeline
            scorer._reference = _reference_from(scorer, real)
        scorer.reference
        name, is_layer, fid_layer = scorer.extractor_name, scorer.is_layer, scorer.fid_layer
        fidelity_kwargs = dict(
            input1=ImageTensor(fake), input2=ImageTensor(real), input2_cache_name=f"perf-{size}-{n}",
            cache_root=str(tmp / "fidelity"), isc=True, fid=True, kid=True, prc=True, feature_extractor=name,
            feature_layer_isc=is_layer, feature_layer_fid=fid_layer, feature_layer_kid=fid_layer,
            feature_layer_prc=fid_layer, prc_neighborhood=scorer.prc_k(n),
            feature_extractor_weights_path=weights or str(scorers.weights_path("digits-cnn")), cuda=False, verbose=False,
            save_cpu_ram=True, batch_size=ev.batch_size, kid_subset_size=min(1000, n, len(real)))
        torch_fidelity.calculate_metrics(**fidelity_kwargs)  # warm its input2 cache, as ours is warm
        ours, theirs = [], []
        for _ in range(args.reps):  # alternate, so drift in machine load hits both alike
            ours += timed(lambda: scorer.score(fake), 1)
            theirs += timed(lambda: torch_fidelity.calculate_metrics(**fidelity_kwargs), 1)
        ratio = statistics.median(theirs) / statistics.median(ours)
        rows.append((f"scoring {n} images (IS, FID, KID, precision and recall), {label}",
                     f"{n / statistics.median(ours):.0f} img/s ({spread(ours)})",
                     f"{n / statistics.median(theirs):.0f} img/s ({spread(theirs)})",
                     f"{ratio:.2f}x torch-fidelity (goal >= 0.95x)"))
    return rows


def _reference_from(scorer: Scorer, real: torch.Tensor) -> dict:
    from torch_fidelity.metric_fid import fid_features_to_statistics

    feats = scorer.features(real)[scorer.fid_layer]
    return {"features": feats, "stats": fid_features_to_statistics(feats)}


def cache_row(args, tmp: Path) -> tuple[str, str, str, str]:
    ev = Evaluation(is_samples=1000, fid_real=1437, fid_fake=1000)
    cache = tmp / "refcache"

    def fresh():
        Scorer(dataset="digits", image_size=8, evaluation=ev, cache_dir=cache).reference

    cold = []
    for _ in range(args.reps):
        for f in cache.glob("ref-*.pt"):
            f.unlink()
        cold += timed(fresh, 1)
    warm = timed(fresh, args.reps)
    return ("reference statistics (digits train, 1437 images)", f"cached: {spread(warm)}",
            f"recomputed: {spread(cold)}", f"saves {statistics.median(cold) - statistics.median(warm):.3f} s")


def memory_row() -> tuple[str, str, str, str]:
    """Peak RSS of one default-suite run (the slowest kind: wgan_gp at setting D), in a fresh process."""
    code = ("import resource, torch; torch.set_num_threads(1)\n"
            "from benchmark.suite import load_suite, expand\nfrom benchmark.launch import Resources\n"
            "from benchmark.run import execute\n"
            "spec = [s for s in expand(load_suite('suites/default.yaml')) if s.label == 'wgan_gp' and "
            "s.setting == 'D'][0]\nr = Resources()\n"
            "rec, _ = execute(spec, real=r.images(spec), scorer=r.scorer(spec), progress=False)\n"
            "print(rec['status'], rec['peak_rss_mb'], rec['wall_seconds'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    status, rss, wall = out.stdout.split()[-3:]
    return ("peak memory, one default-suite run (wgan_gp, D)", f"{float(rss):.0f} MiB RSS",
            f"run took {float(wall):.0f} s ({status})", "budget: 4 GiB for make bench in all")


def report_row(tmp: Path) -> tuple[str, str, str, str]:
    """A report of 4,800 results (8 regularizers x settings A-F x 100 seeds, a third of them collapsed) from
    synthetic result files: the statistics (exact tests, bootstraps, power) must stay fast at this size."""
    from benchmark import paper
    from benchmark.report import write_report
    from benchmark.store import write_result

    folder, rng = tmp / "big" / "big", np.random.default_rng(0)
    regs = ["none", "spectral_norm", "wgan_gp", "weight_clipping", "batch_norm", "layer_norm", "weight_norm",
            "orthonormal"]
    for i, reg in enumerate(regs):
        for setting, values in ((s, paper.settings()[s]) for s in "ABCDEF"):
            for seed in range(100):
                fid = float(rng.lognormal(4 + 0.1 * i, 0.4) * (10 if rng.random() < 0.33 else 1))
                write_result(folder, {"suite": "big", "run_id": f"{reg}-{setting}-s{seed}", "regularizer": reg,
                                      "setting": setting, **values, "seed": seed, "steps": 100, "status": "ok", "error": None,
                                      "fid": fid, "inception_score_mean": 5.0, "inception_score_std": 0.1,
                                      "kid_mean": fid, "sec_per_100_updates": 1.0 + 0.1 * i, "dataset": "digits",
                                      "image_size": 8, "architecture": "standard_cnn", "width": 0.125,
                                      "feature_extractor": "digits-cnn"})
    start = time.perf_counter()
    write_report(folder, out_dir=tmp / "big-report")
    took = time.perf_counter() - start
    return ("report of 4,800 results (8 x 6 settings x 100 seeds)", f"{took:.1f} s", "-",
            "goal: seconds (the mean +- t report took 8 s)")


_ONE_RUN = ("import sys, time, torch; torch.set_num_threads(int(sys.argv[1]))\n"
            "from benchmark.suite import load_suite, expand\nfrom benchmark.launch import Resources\n"
            "from benchmark.run import execute\n"
            "spec = [s for s in expand(load_suite('suites/default.yaml')) if s.label == 'none' and "
            "s.setting == 'D'][0]\nr = Resources(); real, scorer = r.images(spec), r.scorer(spec)\n"
            "start = time.perf_counter(); execute(spec, real=real, scorer=scorer, progress=False)\n"
            "print(time.perf_counter() - start)")


def ceiling_row() -> tuple[str, str, str, str]:
    """What two workers can gain at best here: one run alone on all threads vs two copies at once on one
    thread each. On this VM the two vCPUs slow each other down, so 2 workers cannot reach 0.5x serial."""
    def one(threads: int, copies: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", _ONE_RUN, str(threads)], cwd=ROOT, stdout=subprocess.PIPE,
                                  text=True) for _ in range(copies)]
        return max(float(p.communicate()[0].split()[-1]) for p in procs)

    alone = one(torch.get_num_threads(), 1)
    pair = one(1, 2)
    return ("ceiling for 2 workers: one default run (none, D)",
            f"2 copies at once, 1 thread each: {pair:.1f} s",
            f"alone, {torch.get_num_threads()} threads: {alone:.1f} s",
            f"best possible sweep ratio {pair / (2 * alone):.2f}x serial")


def sweep_row(tmp: Path) -> tuple[str, str, str, str]:
    """4 tiny runs (the default suite's model and length): the local launcher serially vs Ray with 2
    workers, Ray's start-up timed apart. Runs as short as 100 updates only measure the workers' cold start."""
    import ray
    import yaml

    from benchmark.launch import ClusterOptions, Resources, run_suite
    from benchmark.suite import expand, load_suite

    path = tmp / "sweep.yaml"
    # four runs of one length (setting D, two seeds), as the ceiling row's: with unequal runs (n_dis 1 beside 5)
    # the best split of the work between 2 workers is itself uneven, which is the sweep's makeup, not the launcher
    path.write_text(yaml.safe_dump({
        "dataset": "digits", "image_size": 8, "width": 0.125, "regularizers": ["none", "spectral_norm"],
        "settings": ["D"], "seeds": [0, 1], "steps": 400,
        "evaluation": {"is_samples": 500, "fid_real": 1437, "fid_fake": 500}}))
    suite = load_suite(path)
    Resources().prepare(expand(suite))  # on-disk caches (classifier, reference) warm for both
    start = time.perf_counter()
    run_suite(suite, results_root=tmp / "serial", progress=False)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    startup = time.perf_counter() - start
    try:
        summary = run_suite(suite, results_root=tmp / "ray", progress=False, launcher="ray", workers=2,
                            cluster=ClusterOptions())
        warming = summary.startup_seconds
        parallel = summary.seconds - warming
    finally:
        ray.shutdown()
    return ("sweep of 4 tiny runs (digits, setting D, 400 updates)", f"Ray, 2 workers: {parallel:.1f} s "
            f"(+ {startup:.1f} s Ray start-up, + {warming:.1f} s warming the 2 workers)",
            f"local, serial: {serial:.1f} s", f"{parallel / serial:.2f}x serial (goal <= 0.6x)")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line)
        cpu = model
    except (OSError, StopIteration):
        pass
    import os
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"torch-fidelity {torch_fidelity.__version__}, Python {platform.python_version()}")


NOTES = """
How to read it:
- harness overhead: the trainer's seconds per 100 updates (what every result reports) over a hand-written
  loop of the same model, loss, batch and optimizer, on the default suite's tiny model, where per-step
  Python costs weigh most. The loop makes the trainer's steps (real and fake through D as one batch,
  D's weights frozen in G's step), so the ratio is the harness's cost alone.
- regularizer cost: the paper's Figure 10 as ratios to `none`, on the standard CNN at the paper's width
  (32x32, random images), timed over a few updates per repetition: on a CPU at ~4 s per update the
  rows carry a few percent of noise (see their ranges), so read 0.96x as "no slower than none".
- fused: a group of 10 seeds trained as one batched model (benchmark/stacked.py, backends.py), each
  member's share of the group's time, against a solo run of the same model; every measurement in its own
  one-thread process, as a sweep's worker runs. Peak memory is the process's (VmHWM), data and torch included.
- Fashion-MNIST's model: the standard CNN at 32x32 on one channel, solo and fused by 10, at widths 1/8 and
  1/4; GFLOP per update counted by torch.utils.flop_counter (benchmark/fusing.py), achieved GFLOP/s against
  one thread's float32 matmul peak (2048 x 2048), measured in the same process. `fuse: auto` fuses on a CPU
  below 1.5 GFLOP per update.
- ceiling: the two vCPUs of a small VM slow each other down; the best sweep ratio 2 workers can reach
  there is (2 copies at once) / (2 x alone), which bounds the sweep row.
"""

ROWS = ["overhead", "cost", "cost-fashion", "sn", "fused", "gray32", "scoring", "cache", "memory", "ceiling", "sweep", "report"]


def _kind(label: str) -> str:
    """A row's kind, its label's first two words ("fused 10", "scoring 5000", "harness overhead,")."""
    return " ".join(label.split()[:2])


def merged(previous: str, rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The rows of a previous perf.md with those of the kinds just measured replaced, in place."""
    old = [tuple(c.strip() for c in line.strip().strip("|").split("|")) for line in previous.splitlines()
           if line.startswith("| ") and not line.startswith("| what |")]
    new_kinds = {_kind(r[0]) for r in rows}
    out, placed = [], False
    for r in old:
        if _kind(r[0]) in new_kinds:
            if not placed:
                out += rows
                placed = True
        else:
            out.append(r)
    return out if placed else out + rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--inception", action="store_true", help="add an Inception-v3 scoring row (slow on CPU)")
    p.add_argument("--out", default=str(ROOT / "reports" / "perf" / "perf.md"))
    p.add_argument("--only", nargs="+", choices=ROWS, default=ROWS, help="measure only these rows")
    p.add_argument("--updates", type=int, default=40,
                   help="generator updates per timed repetition, default suite's model (default 40)")
    p.add_argument("--full-width-updates", type=int, default=2,
                   help="the same at the paper's width, about 5 s each on a 2-core CPU (default 2)")
    p.add_argument("--fashion-updates", type=int, default=10,
                   help="updates per timed repetition of each regularizer on the Fashion-MNIST suite's model (default "
                        "10, about 0.25 s each solo at n_dis 5)")
    p.add_argument("--gray32-updates", type=int, default=3,
                   help="updates per timed repetition of Fashion-MNIST's 32x32 model (0.3-0.6 s each solo)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # overhead: twice the repetitions; the two sides differ by a few percent at most, inside 5 reps' noise
        makers = {"overhead": lambda: perf_training.overhead_rows(2 * args.reps, args.updates),
                  # Figure 10 at the paper's width (CIFAR-10's 3 channels) and at the Fashion-MNIST suite's size
                  "cost": lambda: perf_training.cost_rows(max(2, args.reps // 2), args.full_width_updates),
                  "cost-fashion": lambda: perf_training.cost_rows(args.reps, args.fashion_updates,
                                                                  model=perf_training.FASHION,
                                                                  title="Fashion-MNIST suite's regularizer cost"),
                  # on the default model SN's ops are ~20% of a step, so a difference shows; at the paper's
                  # width on a CPU the convolutions drown it
                  "sn": lambda: [perf_training.sn_row(max(3, args.reps // 2), args.updates,
                                                      model=perf_training.DEFAULT),
                                 perf_training.sn_row(max(3, args.reps // 2), args.full_width_updates,
                                                      model=perf_training.PAPER)],
                  "fused": lambda: perf_training.fused_rows(max(3, args.reps // 2), args.updates),
                  "gray32": lambda: perf_training.gray32_rows(3, args.gray32_updates),
                  "scoring": lambda: scoring_rows(args, tmp), "cache": lambda: [cache_row(args, tmp)],
                  "memory": lambda: [memory_row()], "ceiling": lambda: [ceiling_row()],
                  "sweep": lambda: [sweep_row(tmp)], "report": lambda: [report_row(tmp)]}
        rows = [row for name in ROWS if name in args.only for row in makers[name]()]
    header = ("| what | ours | alternative | result |", "|---|---|---|---|")
    when = f"Measured {time.strftime('%Y-%m-%d')} by `make perf`"
    here = machine()
    if set(args.only) != set(ROWS) and Path(args.out).is_file():  # --only: the new rows replace their kind's
        previous = Path(args.out).read_text()
        rows = merged(previous, rows)
        # the machine line stays the one the other rows were measured on; these rows name their own
        old_machine = next((line[len("Machine: "):] for line in previous.splitlines() if line.startswith("Machine: ")),
                           here)
        # and so does what was said of when each kind of row was measured
        old_when = next((line for line in previous.splitlines() if line.startswith("Measured ")), "")
        old_when = old_when.split(" (repetitions x updates")[0] or "Measured earlier by `make perf`"
        when = (f"{old_when}; rows {', '.join(args.only)} on {time.strftime('%Y-%m-%d')} by `scripts/perf.py "
                f"--only {' '.join(args.only)}`" + (f" on {here}" if old_machine != here else ""))
        here = old_machine
    table = "\n".join([*header, *("| " + " | ".join(r) + " |" for r in rows)])
    text = (f"# regbench performance\n\nMachine: {here}\n\n{when} (repetitions x updates timed as each row "
            f"says, after one untimed call; median and min-max).\n\n{table}\n{NOTES}")
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
