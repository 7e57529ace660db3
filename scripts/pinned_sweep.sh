#!/bin/bash
# Runs (or resumes) one evidence suite in the background from a git worktree pinned at one commit, so every
# result records the same code with git_dirty false even while main moves on. Results land in
# reports/<suite>/results/<suite>/ (commit them as they arrive: a sweep resumes from what is committed);
# `regbench report reports/<suite>/results/<suite> --out reports/<suite>` then makes the report.
#   bash scripts/pinned_sweep.sh default            # the commit of the results already there, else HEAD
#   bash scripts/pinned_sweep.sh beyond <commit>
# beyond shares 60 runs with default (same run ids, same experiments): they are copied from default's results
# before it starts, so they are not trained twice.
set -euo pipefail
suite=${1:?usage: pinned_sweep.sh SUITE [COMMIT]}
repo=$(cd "$(dirname "$0")/.." && pwd)
results="$repo/reports/$suite/results"
mkdir -p "$results/$suite"
commit=${2:-$(python3 - "$results/$suite" <<'PY'
import json, pathlib, sys
found = sorted({json.loads(p.read_text())["environment"]["git_commit"] for p in pathlib.Path(sys.argv[1]).glob("*.json")
                if p.name != "plan.json"})
print(found[0] if len(found) == 1 else "")
if len(found) > 1:
    sys.exit(f"results from {len(found)} commits in {sys.argv[1]}: {found}")
PY
)}
commit=${commit:-$(git -C "$repo" rev-parse HEAD)}
if [ "$suite" = beyond ] && [ -d "$repo/reports/default/results/default" ]; then
  python3 - "$repo" "$commit" <<'PY'
import json, pathlib, shutil, sys
repo, commit = pathlib.Path(sys.argv[1]), sys.argv[2]
src, dst = repo / "reports/default/results/default", repo / "reports/beyond/results/beyond"
for p in src.glob("*.json"):
    r = json.loads(p.read_text())
    if r.get("environment", {}).get("git_commit") != commit or (dst / p.name).exists():
        continue
    if r["regularizer"] in ("none", "spectral_norm", "wgan_gp"):  # the runs beyond.yaml shares with default
        shutil.copy2(p, dst / p.name)
        samples = p.with_suffix(".samples.npz")
        if samples.exists():
            shutil.copy2(samples, dst / samples.name)
PY
fi
tree="$repo/../regbench-sweep-${commit:0:7}"
[ -d "$tree" ] || git -C "$repo" worktree add --detach "$tree" "$commit"
cd "$tree"
export PYTHONPATH="$tree:$tree/examples/plugins"  # ahead of the editable install's finder, which points at main
# its own process group (setsid), so that one kill stops the driver and its pool workers together: killing
# the driver alone leaves the workers training runs whose results nobody will write
setsid nohup "$repo/.venv/bin/python" -m benchmark run "suites/$suite.yaml" --results "$results" --workers 2 \
    > "$repo/../$suite-sweep.log" 2>&1 &
echo "$suite sweep from $commit in $tree (pid $!); log: $repo/../$suite-sweep.log; stop it with: kill -- -$!"
