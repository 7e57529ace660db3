"""The GPU half of scripts/gpu_check.sh: seconds per 100 generator updates of the full-width standard CNN at
32x32 (random images, nothing downloaded) for every regularizer at n_dis 5, with the ratio to `none`;
then the trainer against a bare loop and our spectral norm against torch's, and the speed switches."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf_training import (PAPER_MODEL, alternate, spread, bare, ours, real_images,  # noqa: E402
                           spec_for)

from benchmark.regularizers import BUILTINS  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default="reports/perf/gpu.md")
    p.add_argument("--device", default="cuda", help="cpu: a smoke test of this script (tests/test_perf_scripts.py)")
    p.add_argument("--width", type=float, default=1.0, help="the standard CNN's width (1.0: the paper's)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    dev = args.device
    model = {**PAPER_MODEL, "width": args.width}
    specs = {n: spec_for(n, model, steps=args.updates, device=dev) for n in BUILTINS}
    real = real_images(specs["none"], n=10000)
    t = alternate({n: (lambda s=s: ours(s, real)) for n, s in specs.items()}, args.reps)
    base = statistics.median(t["none"])
    rows = [(f"{n}", spread(t[n]), f"{statistics.median(t[n]) / base:.2f}x") for n in BUILTINS]
    side = []
    for name in ("none", "spectral_norm", "wgan_gp"):
        s = specs[name]
        tt = alternate({"ours": lambda: ours(s, real), "bare": lambda: bare(s, real, kind=name)}, args.reps)
        side.append((f"trainer vs bare loop, {name}", spread(tt["ours"]), spread(tt["bare"]),
                     f"{statistics.median(tt['ours']) / statistics.median(tt['bare']):.3f}x (goal <= 1.03)"))
    s = specs["spectral_norm"]
    tt = alternate({"ours": lambda: bare(s, real, kind="spectral_norm"),
                     "torch": lambda: bare(s, real, kind="torch_spectral_norm")}, args.reps)
    side.append(("our spectral norm vs torch's (bare loop)", spread(tt["ours"]), spread(tt["torch"]),
                 f"{statistics.median(tt['ours']) / statistics.median(tt['torch']):.3f}x (goal <= 1.0)"))
    switches = {"channels_last": {"channels_last": True}, "bf16": {"bf16": True}}
    if dev != "cpu":  # inductor on a CPU compiles for minutes: a GPU row
        switches["compile + bf16 + channels_last"] = {"compile": True, "bf16": True, "channels_last": True}
    for label, sw in switches.items():
        fast = replace(s, **sw)
        tt = alternate({"on": lambda: ours(fast, real), "off": lambda: ours(s, real)}, args.reps)
        side.append((f"spectral_norm with {label}", spread(tt["on"]), spread(tt["off"]),
                     f"{statistics.median(tt['on']) / statistics.median(tt['off']):.2f}x the default"))
    gpu = torch.cuda.get_device_name(0) if dev.startswith("cuda") else f"none ({dev})"
    text = [f"# regbench on a GPU: {gpu}", "",
            f"torch {torch.__version__}, CUDA {torch.version.cuda}; width {args.width}; measured {time.strftime('%Y-%m-%d')} by "
            f"scripts/gpu_check.sh ({args.reps} repetitions after one warm-up each, median and min-max; "
            f"{args.updates} updates per repetition; standard CNN 32x32, batch 64, n_dis 5, "
            "random images).", "",
            "| regularizer | s / 100 generator updates | ratio to none |", "|---|---|---|",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows), "",
            "| what | ours | alternative | result |", "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in side), "",
            f"Total {time.perf_counter() - started:.0f} s.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
