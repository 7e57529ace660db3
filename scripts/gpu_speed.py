"""The GPU half of scripts/gpu_check.sh: seconds per 100 generator updates of the full-width standard CNN at
32x32 (random images, nothing downloaded) for every regularizer at n_dis 5, with the ratio to `none`;
then the trainer against a bare loop and our spectral norm against torch's, the speed switches, and fused groups
of 1, 4 and 16 seeds against solo runs."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf_training import (PAPER_MODEL, alternate, cost_rows, ours, overhead_rows, real_images,  # noqa: E402
                           sn_row, spec_for, spread)


def switch_rows(reps: int, steps: int, *, model: dict, device: str) -> list[tuple[str, str, str, str]]:
    """Each speed switch on against the default, spectral_norm at n_dis 5."""
    s = spec_for("spectral_norm", model, steps=steps, device=device)
    real = real_images(s)
    switches = {"channels_last": {"channels_last": True}, "bf16": {"bf16": True}}
    if device != "cpu":  # inductor on a CPU compiles for minutes: a GPU row
        switches["compile + bf16 + channels_last"] = {"compile": True, "bf16": True, "channels_last": True}
    rows = []
    for label, sw in switches.items():
        fast = replace(s, **sw)
        t = alternate({"on": lambda: ours(fast, real), "off": lambda: ours(s, real)}, reps)
        rows.append((f"spectral_norm with {label}", spread(t["on"]), spread(t["off"]),
                     f"{statistics.median(t['on']) / statistics.median(t['off']):.2f}x the default"))
    return rows


def fused_rows(reps: int, steps: int, *, model: dict, device: str, sizes=(1, 4, 16)) -> list[tuple[str, str, str, str]]:
    """A fused group of k seeds (each member's share of the group's time) against a solo run, per regularizer at
    n_dis 5; k = 1 on the fused path shows its overhead (a sweep's group of one takes the solo path)."""
    from benchmark.train import train_group

    rows = []
    for name in ("none", "spectral_norm", "wgan_gp"):
        base = spec_for(name, model, steps=steps, device=device)
        real = real_images(base)

        def group(k: int):
            specs = [replace(base, seed=seed) for seed in range(k)]
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            sec = train_group(specs, real, progress=False, fused=True)[0].sec_per_100_updates
            peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device.startswith("cuda") else float("nan")
            return sec, peak

        peaks = {}

        def timed(k):
            sec, peak = group(k)
            peaks[k] = peak
            return sec

        t = alternate({"solo": lambda: ours(base, real), **{f"x{k}": (lambda k=k: timed(k)) for k in sizes}}, reps)
        solo = statistics.median(t["solo"])
        for k in sizes:
            fused = statistics.median(t[f"x{k}"])
            goal = " (goal >= 8x at 16)" if k == 16 else ""
            rows.append((f"fused {k} seeds, {name} (n_dis 5, s / 100 updates per member)",
                         f"{spread(t[f'x{k}'])}, peak {peaks[k]:.0f} MiB", f"solo: {spread(t['solo'])}",
                         f"{solo / fused:.2f}x solo's throughput{goal}"))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default="reports/perf/gpu.md")
    p.add_argument("--device", default="cuda", help="cpu: a smoke test of this script (tests/test_perf_scripts.py)")
    p.add_argument("--width", type=float, default=1.0, help="the standard CNN's width (1.0: the paper's)")
    p.add_argument("--fused-only", action="store_true", help="only the fused-group rows (gpu_check.sh's second call)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    dev, n, reps = args.device, args.updates, args.reps
    model = ({**PAPER_MODEL, "width": args.width}, f"standard CNN 32x32, width {args.width:g}")
    rows = (fused_rows(reps, n, model=model[0], device=dev) if args.fused_only else
            [*cost_rows(reps, n, model=model, device=dev), *overhead_rows(reps, n, model=model, device=dev),
             sn_row(reps, n, model=model, device=dev), *switch_rows(reps, n, model=model[0], device=dev)])
    gpu = torch.cuda.get_device_name(0) if dev.startswith("cuda") else f"none ({dev})"
    text = [f"# regbench on a GPU: {gpu}", "",
            f"torch {torch.__version__}, CUDA {torch.version.cuda}; measured {time.strftime('%Y-%m-%d')} by "
            f"scripts/gpu_check.sh ({reps} repetitions after one warm-up each, median and min-max; random images, "
            "batch 64).", "",
            "| what | ours | alternative | result |", "|---|---|---|---|",
            *(f"| {' | '.join(row)} |" for row in rows), "",
            f"Total {time.perf_counter() - started:.0f} s.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
