"""The maintainer command: ``python -m benchmark.scorers train NAME [--check]``.

``train`` retrains a shipped scorer from its seed (its spec's thread count, deterministic algorithms), refuses weights
below the spec's test accuracy, writes ``weights/<name>-v<version>.pt`` and its manifest entry. ``--check``
trains into a temporary file and says whether this machine reproduces the shipped weights bit for bit.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from . import MANIFEST, SCORERS, WEIGHTS, file_sha256, manifest, weights_bytes
from ..provenance import cpu_model
from .classifier import train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.scorers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="retrain a shipped scorer and pin its weights")
    t.add_argument("name", choices=sorted(SCORERS))
    t.add_argument("--check", action="store_true", help="train to a temp file and compare with the shipped one")
    v = sub.add_parser("validate", help="the instrument checks: floor, corruptions, class dropping")
    v.add_argument("names", nargs="+", choices=sorted(SCORERS))
    v.add_argument("--out", default="docs/instruments", help="folder for <name>.csv/.md and validation.png")
    v.add_argument("--data-root")
    args = parser.parse_args(argv)
    if args.cmd == "validate":
        return _validate(args)

    spec = SCORERS[args.name]
    net, accuracy = train(spec)
    if accuracy < spec.min_test_accuracy:
        print(f"{spec.name} reached {accuracy:.4f} test accuracy, below {spec.min_test_accuracy}: not pinned",
              file=sys.stderr)
        return 1
    target = Path(tempfile.mkdtemp()) if args.check else WEIGHTS
    entry = write_weights(spec, net, accuracy, target)
    print(json.dumps(entry, indent=2))
    if args.check:
        shipped = manifest().get(spec.name, {})
        same = shipped.get("sha256") == entry["sha256"]
        print(f"{spec.name}: this machine {'reproduces' if same else 'does NOT reproduce'} the shipped weights "
              f"(module hash {entry['module_hash']} vs {shipped.get('module_hash')})")
        return 0 if same else 1
    entries = manifest()
    entries[spec.name] = entry
    MANIFEST.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    return 0


def write_weights(spec, net, accuracy: float, folder: Path) -> dict:
    """``folder/<name>-v<version>.safetensors`` and its manifest entry (sha256 and size of the file; the module hash
    results record, of the torch-fidelity extractor that holds the net as ``.net``)."""
    from ..metrics import module_hash

    target = folder / spec.file
    target.write_bytes(weights_bytes(net.state_dict()))
    holder = torch.nn.Module()
    holder.net = net
    return {"file": spec.file, "sha256": file_sha256(target), "bytes": target.stat().st_size,
            "module_hash": module_hash(holder), "test_accuracy": round(accuracy, 6),
            "params": sum(p.numel() for p in net.parameters()),
            "trained_on": {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                           "torch": torch.__version__, "threads": spec.threads}}


def _validate(args) -> int:
    from .validate import figure, summary, validate, verdicts

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables, failed = [], []
    for name in args.names:
        table = validate(name, data_root=args.data_root)
        tables.append(table)
        table.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
        checks = verdicts(table)
        failed += [f"{name}: {check}" for check, ok in checks.items() if not ok]
        shown = table.drop(columns=["scorer"]).round(4)
        text = (f"# {name} as an instrument (weights {table.attrs['weights']})\n\n"
                + shown.to_markdown(index=False) + "\n\n"
                + "\n".join(f"- {'pass' if ok else 'FAIL'}: {check}" for check, ok in checks.items()) + "\n")
        (out / f"{name}.md").write_text(text)
        print(text)
    figure(tables, out / "validation.png")
    from . import manifest as pinned

    (out / "summary.md").write_text(summary(tables, {n: pinned()[n]["test_accuracy"] for n in args.names}))
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
