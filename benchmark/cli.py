"""``regbench`` (and ``python -m benchmark``): run, plan, report, score, list, check-plugin, new-plugin."""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_BUSY = 3  # another driver holds the results folder
EXIT_CANNOT_WRITE = 4  # a result or checkpoint could not be written (full disk, quota, permissions)
# the names a user can act on (not torch's): kept import-light so `regbench --help` is fast
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_ENV = "REGBENCH_INCEPTION_WEIGHTS"


class UserError(Exception):
    """Bad input: printed as one line, exit code 2."""


def _load(path: str):
    from .suite import SuiteError, load_suites

    try:
        return load_suites(path)
    except SuiteError as exc:
        raise UserError(str(exc)) from None


def cmd_plan(args) -> int:
    import pandas as pd

    from .grouping import groups, solo_reason
    from .suite import expand

    for i, suite in enumerate(_load(args.suite)):
        fuse = args.fuse or suite.fuse
        specs = expand(suite)
        grouped = groups(specs, fuse)
        group_of = {s.run_id: g for g, members in enumerate(grouped) for s in members}
        rows = [{"run_id": s.run_id, "regularizer": s.label, "loss": s.loss, "setting": s.setting, "lr": s.lr,
                 "beta1": s.beta1, "beta2": s.beta2, "n_dis": s.n_dis, "seed": s.seed, "steps": s.steps,
                 "group": group_of[s.run_id]} for s in specs]
        print(("\n" if i else "") + pd.DataFrame(rows).to_string(index=False))
        print(f"\n{len(rows)} runs in suite {suite.name!r} ({suite.dataset}, {suite.image_size}px, "
              f"{suite.architecture} width {suite.width}): {len(suite.regularizers)} regularizers x "
              f"{len(suite.settings)} settings x {len(suite.seeds)} seeds")
        per_reg = pd.Series([r["regularizer"] for r in rows]).value_counts(sort=False)
        print("runs per regularizer: " + ", ".join(f"{reg} {n}" for reg, n in per_reg.items()))
        sizes = pd.Series([len(g) for g in grouped]).value_counts().sort_index(ascending=False)
        alone = sorted({why for g in grouped if len(g) == 1 for why in [solo_reason(g[0])] if why and fuse != 1})
        print(f"fuse {fuse}: {len(grouped)} groups (" + ", ".join(f"{n} of {size}" for size, n in sizes.items())
              + ")" + (f"; alone: {'; '.join(alone)}" if alone else ""))
        if fuse == "auto":
            from .grouping import fuse_decision

            decided = dict.fromkeys(fuse_decision(g[0]).reason for g in grouped if not solo_reason(g[0]))
            for reason in decided:
                print(f"  auto: {reason}")
        print(protocol_summary(suite))
    return 0


def protocol_summary(suite) -> str:
    """The protocol choices a suite makes (docs/protocol.md), in two lines under the plan."""
    ev = suite.evaluation
    g_batch = suite.g_batch_size or suite.batch_size
    return (f"training: init {suite.init}, z ~ {suite.latent}, D passes {suite.d_passes}, lr decay {suite.lr_decay}, "
            f"batch {suite.batch_size} (G {g_batch})\n"
            f"scoring: IS {ev.is_samples:,} generated in {ev.is_splits} splits; FID {ev.fid_real:,} real "
            f"({ev.fid_real_split}) vs {ev.fid_fake:,} generated")


def _fuse(text: str) -> int | str:
    from .schema import MAX_FUSE

    if text == "auto":
        return text
    value = _positive(text)
    if value > MAX_FUSE:
        raise argparse.ArgumentTypeError(f"at most {MAX_FUSE} runs per fused group, got {value}")
    return value


def _writable_folder(folder: Path, flag: str, what: str) -> None:
    """Before anything runs: a folder the sweep must write (created if missing), so that a file in its place or
    a folder without write permission is one message, not a traceback or a failed result per run."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".regbench-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{flag} {folder}: cannot write {what} there ({exc.strerror or exc}); pass another "
                        "folder") from None


def cmd_run(args) -> int:
    from .launch import ClusterOptions, Resources, SlurmOptions, run_suite
    from .provenance import peak_rss_mb
    from .suite import override

    suites = [override(s, max_steps=args.max_steps, samples=args.samples) for s in _load(args.suite)]
    if args.data_root:
        suites = [dataclasses.replace(s, data_root=args.data_root) for s in suites]
    # TensorBoard: the flag, else the suite's; absolute, because workers, Ray tasks and Slurm jobs write there
    suites = [dataclasses.replace(s, tensorboard=str(Path(args.tensorboard or s.tensorboard).resolve())
                                  if (args.tensorboard or s.tensorboard) else None) for s in suites]
    switches = {k: True for k in ("compile", "bf16", "channels_last") if getattr(args, k)}
    if switches:  # on for every run, as if the suite said so (so part of each run's id)
        suites = [dataclasses.replace(s, **switches) for s in suites]
    if args.fuse:  # how runs are grouped, never what a run is: run ids stay
        suites = [dataclasses.replace(s, fuse=args.fuse) for s in suites]
    slurm_options = SlurmOptions(partition=args.slurm_partition, time_min=args.slurm_time,
                                 array_parallelism=args.slurm_array_parallelism, cluster=args.slurm_cluster,
                                 max_requeues=args.slurm_max_requeues, signal_delay_s=args.slurm_signal_delay)
    _writable_folder(Path(args.results), "--results", "results")
    for folder in dict.fromkeys(s.tensorboard for s in suites if s.tensorboard):
        _writable_folder(Path(folder), "--tensorboard", "TensorBoard logs")
    start = time.perf_counter()
    resources = Resources(inception_weights=args.inception_weights)
    failed, largest_run = 0, 0.0
    for suite in suites:
        # resources per run: the flags, else the suite's
        cluster = ClusterOptions(address=args.ray_address,
                                 cpus_per_run=args.cpus_per_run or suite.cpus_per_run,
                                 gpus_per_run=suite.gpus_per_run if args.gpus_per_run is None else args.gpus_per_run)
        summary = run_suite(suite, results_root=Path(args.results), workers=args.workers,
                            progress=not args.quiet, resources=resources, retry_failed=args.retry_failed,
                            launcher=args.launcher, cluster=cluster, slurm_options=slurm_options)
        failed += summary.counts["failed"] + summary.lost
        largest_run = max(largest_run, summary.peak_run_rss_mb)
        print(summary.line())
        for line in summary.failure_lines():
            print(line)
    memory = f"peak memory: driver {peak_rss_mb():.0f} MiB" + (
        f", largest worker {largest_run:.0f} MiB (x{args.workers} workers)" if args.workers > 1 and largest_run else "")
    print(f"total wall time: {time.perf_counter() - start:.1f} s; {memory}")
    return 1 if failed else 0


def torch_randperm(n: int):
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(0))


def cmd_score(args) -> int:
    import json

    from .data import DATASETS, split_size
    from .image_input import BadImages, read_image_set
    from .metrics import Scorer
    from .schema import FID_REAL, Evaluation
    from .backends import resolve_device

    if args.dataset not in DATASETS:
        raise UserError(f"unknown dataset {args.dataset!r}; registered: {', '.join(DATASETS.names())}")
    try:
        size = split_size(args.dataset, args.split, args.data_root)
    except ValueError as exc:
        raise UserError(f"--split: {exc}") from None
    fid_real = args.fid_real or (min(FID_REAL, size) if size else FID_REAL)
    if size is not None and fid_real > size:
        raise UserError(f"--fid-real {fid_real} is more than the {size:,} images of {args.dataset}'s {args.split!r} "
                        f"split; use at most {size}")
    name, _, split = str(args.images).partition(":")
    if split and name in DATASETS and not Path(args.images).exists():
        # a dataset's own split as the images: the real-data floor (test vs train), or a check of the scorer
        from .data import NATIVE_SIZE, load_images
        from .errors import DatasetUnavailable

        try:
            split_size(name, split, args.data_root)
            images = load_images(name, split=split, size=NATIVE_SIZE.get(name, 32), root=args.data_root)
        except (ValueError, DatasetUnavailable) as exc:
            raise UserError(f"{args.images}: {exc}") from None
    else:
        try:
            images = read_image_set(args.images)
        except BadImages as exc:
            raise UserError(str(exc)) from None
    if args.max_images:
        images = images[torch_randperm(len(images))[: args.max_images]]
    n = len(images)
    if n < args.is_splits:
        raise UserError(f"{args.images}: {n} images are fewer than --is-splits {args.is_splits}")
    evaluation = Evaluation(is_samples=n, is_splits=args.is_splits, fid_real_split=args.split,
                            fid_real=fid_real, fid_fake=n)
    scorer = Scorer(dataset=args.dataset, image_size=images.shape[-1], evaluation=evaluation,
                    data_root=args.data_root, device=resolve_device("auto"), weights_path=args.inception_weights)
    scores = scorer.score(images)
    if args.json:
        print(json.dumps({"images": str(args.images), "n": n, **scores, "protocol": scorer.protocol()}, indent=2))
        return 0
    print(f"{n} images ({images.shape[1]}x{images.shape[2]}x{images.shape[3]}) vs {args.dataset} {args.split} "
          f"(n={len(scorer.reference['features'])}), feature extractor {scorer.extractor_name} "
          f"[{scorer.weights_hash}]")
    print(f"IS  {scores['inception_score_mean']:.3f} ± {scores['inception_score_std']:.3f} ({args.is_splits} splits)")
    print(f"FID {scores['fid']:.3f}")
    print(f"KID {scores['kid_mean']:.5f} ± {scores['kid_std']:.5f}")
    print(f"precision {scores['precision']:.3f}, recall {scores['recall']:.3f} "
          f"(k = {scorer.evaluation.prc_neighborhood})")
    return 0


def cmd_report(args) -> int:
    from .report import NoResults, write_report

    try:
        out = write_report([Path(d) for d in args.results_dir], out_dir=Path(args.out) if args.out else None,
                           samples_per_setting=args.samples_per_setting, success_fid=args.success_fid)
    except NoResults as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:  # an --out that cannot be written: the previous report there is left as it was
        where = exc.filename or args.out or "reports/"
        raise UserError(f"cannot write the report in {where}: {exc.strerror or exc}; pass another --out "
                        "(the previous report there is unchanged)") from None
    print(f"report written: {out}")
    return 0


def cmd_list(args) -> int:
    from .data import DATASETS
    from .losses import LOSSES
    from .models import ARCHITECTURES
    from .paper import settings
    from .regularizers import PLUGIN_PROBLEMS, REGULARIZERS, PluginError, load_plugin_file

    for path in args.plugin or ():
        try:
            load_plugin_file(path)
        except PluginError as exc:
            raise UserError(str(exc)) from None
    print("regularizers:")
    for name in REGULARIZERS.names():
        cls = REGULARIZERS.get(name)
        params = ", ".join(f"{k}={v}" for k, v in cls.defaults.items()) or "-"
        hooks = [f"penalty({', '.join(cls.penalty_extras())})" if h == "penalty" and cls.penalty_extras() else h
                 for h in cls.HOOKS if cls.uses(h)]
        hooks = ", ".join(hooks + (["state"] if cls.uses("state_dict") else [])) or "-"
        loss = f"; loss {cls.loss}" if cls.loss else ""
        print(f"  {name:<16} params: {params}; hooks: {hooks}{loss} [{REGULARIZERS.origin(name)}]")
    for problem in PLUGIN_PROBLEMS.values():
        print(f"  ! {problem}")
    print("losses:        " + ", ".join(LOSSES.names()))
    print("architectures: " + ", ".join(ARCHITECTURES.names()))
    print("datasets:      " + ", ".join(DATASETS.names()))
    from .scorers import SCORERS, manifest

    print("scorers (shipped, pinned by sha256; other datasets: Inception through torch-fidelity):")
    for name, spec in SCORERS.items():
        entry = manifest().get(name)
        print(f"  {name:<12} {spec.dataset}: " + (f"test accuracy {entry['test_accuracy']:.4f}, {entry['bytes'] / 1e3:.0f} kB, "
                                               f"weights {entry['module_hash']}" if entry else "no pinned weights"))
    print("settings (Miyato et al. 2018, Table 1):")
    for name, s in settings().items():
        print(f"  {name}: lr {s['lr']:g}, beta1 {s['beta1']}, beta2 {s['beta2']}, n_dis {s['n_dis']}")
    return 0


def _plugin_params(pairs: list[str]) -> dict:
    import yaml

    from .suite import YamlLoader

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param {pair!r}: expected NAME=VALUE")
        out[key] = yaml.load(value, Loader=YamlLoader)  # 0.5, 1e-4 -> float, 3 -> int, true -> bool, as in a suite
    return out


def cmd_check_plugin(args) -> int:
    from .plugin_check import check_plugin, format_table, passed
    from .regularizers import REGULARIZERS, BadHyperparameter, PluginError, load_plugin_file
    from .registry import UnknownName
    from .suite import SuiteError

    try:
        for path in args.plugin or ():
            load_plugin_file(path)
        REGULARIZERS.get(args.name)
        outcomes = check_plugin(args.name, params=_plugin_params(args.param))
    except (PluginError, UnknownName, BadHyperparameter, SuiteError) as exc:
        raise UserError(str(exc)) from None
    print(format_table(args.name, outcomes))
    return 0 if passed(outcomes) else 1


def cmd_new_plugin(args) -> int:
    from .plugin_template import render

    if not args.name.isidentifier():
        raise UserError(f"plugin name {args.name!r} must be a Python identifier (letters, digits, _)")
    path = Path(args.out or f"{args.name}.py")
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; pass --force to overwrite it")
    path.write_text(render(args.name, path.name))
    print(f"wrote {path}: every hook stubbed (the identity). Check it with:\n"
          f"  regbench check-plugin {args.name} --plugin {path}")
    return 0


def _number(text: str, *, minimum: float, inclusive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < minimum or (value == minimum and not inclusive):
        raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {minimum:g}, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="regbench", description="Compare GAN discriminator regularizers.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every run of a suite that has no result yet")
    run.add_argument("suite")
    run.add_argument("--results", default="results", help="results root (default: results/)")
    run.add_argument("--tensorboard", metavar="DIR",
                     help="log each run's losses, scores, spectral norms, samples and hyperparameters for TensorBoard "
                          "under DIR/<suite>/<run_id> (default: the suite's `tensorboard:`, else off)")
    run.add_argument("--launcher", choices=["local", "ray", "slurm"], default="local",
                     help="local: in this process or --workers processes; ray: one Ray task per run; "
                          "slurm: a submitit job array")
    run.add_argument("--slurm-partition", help="slurm: partition")
    run.add_argument("--slurm-time", type=_positive, default=24 * 60, help="slurm: time limit per run, minutes")
    run.add_argument("--slurm-array-parallelism", type=_positive, default=64, help="slurm: runs at once")
    run.add_argument("--slurm-max-requeues", type=_positive, default=10,
                     help="slurm: a run that reaches its time limit is checkpointed and requeued this many times, "
                          "then recorded failed (default 10; preemptions do not count)")
    run.add_argument("--slurm-signal-delay", type=_positive, metavar="SECONDS",
                     help="slurm: how long before the time limit a run is told to checkpoint and requeue (default 90 "
                          "s, 30 s for limits under 10 minutes; Slurm may signal up to 30 s earlier)")
    run.add_argument("--slurm-cluster", choices=["slurm", "local", "debug"],
                     help="submitit executor (default: slurm where available); local/debug run here, for tests")
    run.add_argument("--ray-address", help="join a Ray cluster (auto or HOST:PORT); default: start a local one")
    run.add_argument("--cpus-per-run", type=lambda t: _number(t, minimum=0, inclusive=False), help="ray/slurm: CPUs per run (default: the suite's, else 1)")
    run.add_argument("--gpus-per-run", type=lambda t: _number(t, minimum=0, inclusive=True),
                     help="ray/slurm: GPUs per run, 0.25 shares one by 4 (default: the suite's, else 0)")
    run.add_argument("--workers", type=_positive, default=1, help="parallel worker processes (local launcher)")
    run.add_argument("--data-root", help="folder holding the dataset's files (overrides the suite's data_root)")
    run.add_argument("--fuse", type=_fuse, metavar="N",
                     help="train up to N runs that differ only in seed, lr and betas as one batched model "
                          "(default: the suite's fuse, auto unless it says: where it pays; 1: every run alone)")
    run.add_argument("--retry-failed", action="store_true", help="run again the runs whose result is 'failed'")
    run.add_argument("--compile", action="store_true", help="torch.compile D and G (GPU speed; recorded, off by default)")
    run.add_argument("--bf16", action="store_true", help="bf16 autocast for D and G (GPU speed; changes results)")
    run.add_argument("--channels-last", action="store_true", help="NHWC layout for the convs (GPU speed)")
    run.add_argument("--max-steps", type=_positive, help="smoke test: at most N generator updates per run")
    run.add_argument("--samples", type=_positive, help="smoke test: at most N images per score")
    run.add_argument("--inception-weights", help=f"local copy of {INCEPTION_FILE} (or ${INCEPTION_ENV})")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(fn=cmd_run)
    plan = sub.add_parser("plan", help="print the expanded runs of a suite, and how they group; runs nothing")
    plan.add_argument("suite")
    plan.add_argument("--fuse", type=_fuse, metavar="N", help="as run's --fuse")
    plan.set_defaults(fn=cmd_plan)
    rep = sub.add_parser("report", help="report.md, report.html, tables and figures from one or several "
                                        "results folders")
    rep.add_argument("results_dir", nargs="+", help="results/<suite> folders; several are compared in one report")
    rep.add_argument("--out", help="output folder (default: reports/<suite>, or reports/<a>+<b> for several)")
    rep.add_argument("--samples-per-setting", action="store_true",
                     help="also a grid of samples for every regularizer x setting")
    rep.add_argument("--success-fid", type=_positive_float, metavar="X",
                     help="a run trained when its FID is below X (default: the suite's success_fid, else the "
                          "dataset's: digits 150, CIFAR-10 110, STL-10 150)")
    rep.set_defaults(fn=cmd_report)
    score = sub.add_parser("score", help="IS/FID/KID of a folder of images or an .npz against a dataset")
    score.add_argument("images", help="a folder of PNG/JPEG files, an .npz of uint8 (N,H,W,C or N,C,H,W), or a "
                                      "dataset's split as DATASET:SPLIT (fashion_mnist:test: the real-data floor)")
    score.add_argument("--max-images", type=_positive, help="score a seeded random subset of at most N images")
    score.add_argument("--dataset", required=True)
    score.add_argument("--split", default="train", help="the real split to compare against (default: train)")
    score.add_argument("--data-root", help="folder holding the dataset's files")
    score.add_argument("--fid-real", type=_positive,
                       help="real images for the reference (default: 10000, or the whole split if smaller)")
    score.add_argument("--is-splits", type=_positive, default=10)
    score.add_argument("--inception-weights", help=f"local copy of {INCEPTION_FILE} (or ${INCEPTION_ENV})")
    score.add_argument("--json", action="store_true", help="print the scores and protocol as JSON")
    score.set_defaults(fn=cmd_score)
    listing = sub.add_parser("list", help="what is registered, and where each regularizer came from")
    listing.add_argument("--plugin", action="append", metavar="FILE", help="load a plugin file first (repeatable)")
    listing.set_defaults(fn=cmd_list)
    check = sub.add_parser("check-plugin", help="conformance checks of a regularizer on the tiny standard CNN "
                                                "and ResNet (CPU)")
    check.add_argument("name")
    check.add_argument("--plugin", action="append", metavar="FILE", help="a plugin file to load first (repeatable)")
    check.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a hyperparameter to check with (repeatable)")
    check.set_defaults(fn=cmd_check_plugin)
    new = sub.add_parser("new-plugin", help="write a starter regularizer file with every hook stubbed")
    new.add_argument("name")
    new.add_argument("--out", help="file to write (default: NAME.py here)")
    new.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    new.set_defaults(fn=cmd_new_plugin)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .errors import CannotWrite, DatasetUnavailable, FeatureExtractorUnavailable
    from .lock import FolderBusy

    try:
        return args.fn(args)
    except (UserError, DatasetUnavailable, FeatureExtractorUnavailable) as exc:
        print(f"regbench: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FolderBusy as exc:
        print(f"regbench: error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except CannotWrite as exc:
        print(f"regbench: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_WRITE
    except KeyboardInterrupt:
        print("regbench: interrupted; finished results are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `regbench list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
