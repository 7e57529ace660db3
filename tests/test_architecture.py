"""The layering docs/architecture.md describes: no module imports one above it (lazy imports inside functions
count too), every module has a layer, and the trainer has no function over about 80 lines."""
import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark"

# lowest first; a module may import its own layer and those below. Packages (models, regularizers, scorers,
# report) are one unit each here.
LAYERS = [
    ("foundations", {"errors", "registry", "store", "lock", "paper", "instruments", "latent", "losses", "provenance"}),
    ("components", {"data", "models", "regularizers", "probes", "stacked", "member_adam", "member_rng"}),
    ("schema", {"schema", "search", "suite"}),
    ("training", {"hooks", "backends", "steps", "checkpoint", "train"}),
    ("grouping", {"grouping", "fusing"}),
    ("scoring", {"scorers", "metrics", "image_input"}),
    ("execution", {"run", "tensorboard", "resources", "interrupts", "worker"}),
    ("sweep", {"slurm", "local_launch", "ray_launch", "launch"}),
    ("reading", {"results"}),
    ("report", {"report"}),
    ("interfaces", {"plugin_check", "plugin_template", "cli", "__main__", "__init__"}),
]
LAYER = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}


def unit(path: Path) -> str:
    """The layered unit a file belongs to: its top-level module or package under benchmark/."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[str]:
    """The benchmark units ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0: benchmark/x.py, 1: benchmark/pkg/x.py
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "benchmark" and len(parts) > 1:
                    out.add(parts[1])
                elif parts[0] == "benchmark":
                    out |= {a.name for a in node.names}
                continue
            if node.level <= depth:  # within its own package
                continue
            if node.module:
                out.add(node.module.split(".")[0])
            else:  # from . import x (at the package's top), from .. import x (in a subpackage)
                out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "benchmark" and len(parts) > 1:
                    out.add(parts[1])
    return out - {unit(path)}


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert {unit(p) for p in FILES} - set(LAYER) == set()


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_one_above_it(path):
    mine = LAYER[unit(path)]
    above = {u: LAYERS[LAYER[u]][0] for u in imported_units(path) if u in LAYER and LAYER[u] > mine}
    assert not above, f"{path.relative_to(PACKAGE)} ({LAYERS[mine][0]}) imports {above}"


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "benchmark"
    fake.mkdir()
    (fake / "store.py").write_text("def f():\n    from .report import write_report\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert imported_units(fake / "store.py") == {"report"}


def test_the_trainer_has_no_function_over_80_lines():
    for name in ("train.py", "steps.py", "backends.py", "checkpoint.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 80]
        assert not long, (name, long)


def test_the_training_layer_sets_no_process_wide_state():
    """Signal handlers and torch's global flags belong to whoever launches runs (worker.run_group): a trainer
    that set them would change them for every caller, notebooks and tests included."""
    for name in ("train.py", "steps.py", "backends.py", "checkpoint.py", "hooks.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assigned = [ast.unparse(t) for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                    if ast.unparse(t).startswith("torch.backends.")]
        assert "signal" not in imports and not assigned, (name, assigned)
