#!/bin/bash
# Runs (or resumes) suites/digits-paper.yaml in the background from a git worktree pinned at one commit, so
# all 480 results record the same code with git_dirty false even while main moves on. Results land in
# reports/digits-paper/incoming/ (commit them as they arrive); once all 480 are there they replace
# reports/digits-paper/results/ and the report is regenerated.
#   bash scripts/digits_paper_sweep.sh            # the commit of the results already there, else HEAD
#   bash scripts/digits_paper_sweep.sh <commit>
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
incoming="$repo/reports/digits-paper/incoming"
commit=${1:-$(python3 - "$incoming" <<'PY'
import json, pathlib, sys
found = sorted({json.loads(p.read_text())["environment"]["git_commit"]
                for p in pathlib.Path(sys.argv[1]).glob("digits-paper/*.json")})
print(found[0] if len(found) == 1 else "")
if len(found) > 1:
    sys.exit(f"results from {len(found)} commits in {sys.argv[1]}: {found}")
PY
)}
commit=${commit:-$(git -C "$repo" rev-parse HEAD)}
tree="$repo/../regbench-sweep-${commit:0:7}"
[ -d "$tree" ] || git -C "$repo" worktree add --detach "$tree" "$commit"
cd "$tree"
export PYTHONPATH="$tree:$tree/examples/plugins"  # ahead of the editable install's finder, which points at main
nohup "$repo/.venv/bin/python" -m benchmark run suites/digits-paper.yaml --results "$incoming" --workers 2 \
    > "$repo/../digits-paper-sweep.log" 2>&1 &
echo "digits-paper sweep from $commit in $tree (pid $!); log: $repo/../digits-paper-sweep.log"
