"""The plugin API as a third party meets it: entry-point discovery from an installed package, plugin
files named in a suite, broken plugins, `check-plugin` and `new-plugin`."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml

from benchmark.plugin_check import check_plugin, passed
from benchmark.regularizers import BUILTINS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "plugins"
TEST_VERSION = "0.0.1+test"  # tells this copy apart from one `make install` may have put in the venv


def install(site: Path, dist: str, entry_points: dict[str, str], files: dict[str, str] = ()) -> Path:
    """What pip leaves in site-packages, written by hand: the modules and a dist-info whose
    entry_points.txt importlib.metadata reads."""
    site.mkdir(parents=True, exist_ok=True)
    for name, text in dict(files).items():
        (site / name).write_text(textwrap.dedent(text))
    info = site / f"{dist.replace('-', '_')}-{TEST_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {TEST_VERSION}\n")
    (info / "entry_points.txt").write_text(
        "[regbench.regularizers]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    return site


@pytest.fixture(scope="module")
def examples_site(tmp_path_factory):
    """examples/plugins installed into a fresh site folder, with the entry points its pyproject declares."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLES / "regbench_examples", site / "regbench_examples")
    declared = tomllib.loads((EXAMPLES / "pyproject.toml").read_text())["project"]["entry-points"]
    return install(site, "regbench-examples", declared["regbench.regularizers"])


def regbench(*args, site=None, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site or ""), str(ROOT)]))}
    return subprocess.run([sys.executable, "-m", "benchmark", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def tiny_suite(path: Path, regularizers, **extra) -> Path:
    path.write_text(yaml.safe_dump({
        "dataset": "digits", "image_size": 8, "width": 0.125, "regularizers": regularizers, "settings": ["D"],
        "steps": 3, "batch_size": 8, "log_every": 1,
        "evaluation": {"is_samples": 100, "is_splits": 2, "fid_real": 200, "fid_fake": 100, "sample_grid": 16},
        **extra}))
    return path


@pytest.mark.parametrize("name", BUILTINS)
def test_builtins_pass_check_plugin(name):
    outcomes = check_plugin(name)
    assert passed(outcomes), [(o.check, o.results) for o in outcomes]


def test_the_example_package_is_discovered_checked_and_runs_in_a_suite(examples_site, tmp_path):
    listed = regbench("list", site=examples_site)
    assert listed.returncode == 0, listed.stderr
    declared = tomllib.loads((EXAMPLES / "pyproject.toml").read_text())["project"]["entry-points"]
    targets = declared["regbench.regularizers"]
    assert {"r1", "sn_gp", "diffaugment", "bcr", "lecam", "gradient_norm"} <= set(targets)
    for name, target in targets.items():
        line = next(l for l in listed.stdout.splitlines() if l.strip().startswith(name + " "))
        assert f"entry point {target} from regbench-examples {TEST_VERSION}" in line
    assert "!" not in listed.stdout
    for name in ("r1", "sn_gp"):
        check = regbench("check-plugin", name, site=examples_site)
        assert check.returncode == 0 and f"PASS: {name} passed 20 of 20 checks" in check.stdout, check.stdout
    suite = tiny_suite(tmp_path / "beyond.yaml", ["r1", {"name": "r1", "label": "r1_g1", "params": {"gamma": 1.0}},
                                                  "sn_gp"])
    run = regbench("run", str(suite), "--results", str(tmp_path / "results"), "--quiet", site=examples_site)
    assert run.returncode == 0, run.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "results" / "beyond").glob("*.json")]
    assert sorted(r["regularizer"] for r in records) == ["r1", "r1_g1", "sn_gp"]
    assert all(r["status"] == "ok" and "regbench-examples" in r["regularizer_origin"] for r in records)
    assert {r["loss"] for r in records if r["regularizer"] == "sn_gp"} == {"wasserstein"}


BROKEN = {
    "import_error": ("broken_import:Reg", {"broken_import.py": "import not_a_module_regbench\n"},
                     "import failed: ModuleNotFoundError: No module named 'not_a_module_regbench'"),
    "a_function": ("broken_types:a_function", {}, "is function"),
    "not_a_subclass": ("broken_types:Plain", {}, "does not subclass benchmark.regularizers.Regularizer "
                                                 "(it lacks the hooks wrap_layer, normalization"),
    "bad_signature": ("broken_types:BadPenalty", {}, "hook penalty(self, d, real, fake) cannot be called as "
                                                    "penalty(discriminator=, real=, fake=)"),
    "does_nothing": ("broken_types:Nothing", {}, "overrides none of the hooks"),
    "spectral_norm": ("broken_types:Good", {}, "the name is taken by built-in"),
}
TYPES = """
from benchmark.regularizers import Regularizer

def a_function():
    pass

class Plain:
    pass

class BadPenalty(Regularizer):
    def penalty(self, d, real, fake):
        return None

class Nothing(Regularizer):
    defaults = {"x": 1.0}

class Good(Regularizer):
    def after_d_step(self, discriminator):
        pass
"""


def test_each_broken_plugin_gets_its_message_and_the_rest_still_load(tmp_path):
    files = {"broken_types.py": TYPES}
    for _, extra, _ in BROKEN.values():
        files.update(extra)
    eps = {name: target for name, (target, _, _) in BROKEN.items()} | {"good_plugin": "broken_types:Good"}
    site = install(tmp_path / "site", "broken-plugins", eps, files)
    listed = regbench("list", site=site)
    assert listed.returncode == 0, listed.stderr
    problems = [l.strip() for l in listed.stdout.splitlines() if l.strip().startswith("!")]
    for name, (_, _, message) in BROKEN.items():
        (line,) = [p for p in problems if p.startswith(f"! regularizer plugin {name!r}")]
        assert message in line, line
    assert len(problems) == len(BROKEN)
    registered = [l.split()[0] for l in listed.stdout.splitlines() if l.startswith("  ") and "params:" in l]
    assert set(BUILTINS) | {"good_plugin"} <= set(registered) and not (set(BROKEN) - set(BUILTINS)) & set(registered)
    assert "[entry point broken_types:Good from broken-plugins" in listed.stdout
    # a suite naming a broken plugin stops at once with that plugin's message
    suite = tiny_suite(tmp_path / "s.yaml", ["none", "bad_signature"])
    plan = regbench("plan", str(suite), site=site)
    assert plan.returncode == 2 and "Traceback" not in plan.stderr
    assert "regularizers[1].name" in plan.stderr and "hook penalty(self, d, real, fake)" in plan.stderr


PLUGIN_FILE = """
import torch
from benchmark.regularizers import Regularizer, register_regularizer


@register_regularizer("halve_init")
class HalveInit(Regularizer):
    defaults = {"factor": 0.5}

    def initialize(self, discriminator):
        with torch.no_grad():
            for p in discriminator.parameters():
                p.mul_(self.factor)
"""


def test_a_plugin_file_named_in_a_suite_runs_in_worker_processes(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "halve.py").write_text(PLUGIN_FILE)
    suite = tiny_suite(tmp_path / "s.yaml", ["none", "halve_init", {"name": "halve_init", "label": "quarter",
                                                                  "params": {"factor": 0.25}}],
                       plugins=["plugins/halve.py"])  # relative to the suite file, not the working folder
    run = regbench("run", str(suite), "--results", str(tmp_path / "results"), "--workers", "2", "--quiet",
                   cwd=ROOT)
    assert run.returncode == 0, run.stderr
    records = {r["regularizer"]: r for r in (json.loads(p.read_text()) for p in (tmp_path / "results" / "s").glob("*.json"))}
    assert set(records) == {"none", "halve_init", "quarter"} and all(r["status"] == "ok" for r in records.values())
    assert records["halve_init"]["regularizer_origin"] == f"file {tmp_path / 'plugins' / 'halve.py'}"
    check = regbench("check-plugin", "halve_init", "--plugin", str(tmp_path / "plugins" / "halve.py"),
                     "--param", "factor=0.9")
    assert check.returncode == 0, check.stdout + check.stderr
    listed = regbench("list", "--plugin", str(tmp_path / "plugins" / "halve.py"))
    assert f"[file {tmp_path / 'plugins' / 'halve.py'}]" in listed.stdout


@pytest.mark.parametrize("case,content,message", [
    ("missing", None, "not found"),
    ("syntax", "def broken(:\n", "import failed: SyntaxError"),
    ("empty", "x = 1\n", "registers no regularizer"),
    ("bad_default", PLUGIN_FILE.replace('{"factor": 0.5}', '{"factor": [0.5]}'), "defaults must be a dict"),
])
def test_a_broken_plugin_file_stops_its_suite_with_one_message(case, content, message, tmp_path):
    if content is not None:
        (tmp_path / f"{case}.py").write_text(content)
    suite = tiny_suite(tmp_path / "s.yaml", ["none"], plugins=[f"{case}.py"])
    plan = regbench("plan", str(suite))
    assert plan.returncode == 2 and "Traceback" not in plan.stderr
    assert "plugins[0]" in plan.stderr and f"{case}.py" in plan.stderr and message in plan.stderr, plan.stderr


def test_an_unknown_plugin_parameter_is_refused_naming_it(examples_site, tmp_path):
    suite = tiny_suite(tmp_path / "s.yaml", [{"name": "r1", "params": {"gama": 1.0}}])
    plan = regbench("plan", str(suite), site=examples_site)
    assert plan.returncode == 2 and "regularizers[0].params" in plan.stderr
    assert "r1 has no hyperparameter 'gama' (it has: gamma)" in plan.stderr


def test_new_plugin_writes_a_file_that_passes_check_plugin(tmp_path):
    made = regbench("new-plugin", "my_reg", cwd=tmp_path)
    assert made.returncode == 0 and (tmp_path / "my_reg.py").exists(), made.stderr
    text = (tmp_path / "my_reg.py").read_text()
    for hook in ("wrap_layer", "normalization", "initialize", "augment", "discriminate", "penalty", "d_real",
                 "after_d_step", "state_dict", "load_state_dict", "defaults", "loss"):
        assert hook in text
    check = regbench("check-plugin", "my_reg", "--plugin", "my_reg.py", cwd=tmp_path)
    assert check.returncode == 0 and "PASS: my_reg passed 20 of 20 checks" in check.stdout, check.stdout + check.stderr
    again = regbench("new-plugin", "my_reg", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_check_plugin_fails_a_regularizer_with_side_effects_in_eval_mode(tmp_path):
    (tmp_path / "leaky.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn
        from benchmark.regularizers import Regularizer, register_regularizer

        class Counting(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("calls", torch.zeros(()))

            def forward(self, x):
                self.calls += 1  # in eval mode too: a side effect
                return x

        @register_regularizer("leaky")
        class Leaky(Regularizer):
            def normalization(self, num_features):
                return Counting()
    '''))
    check = regbench("check-plugin", "leaky", "--plugin", str(tmp_path / "leaky.py"))
    assert check.returncode == 1 and "FAIL: leaky passed" in check.stdout
    assert "eval mode has no side effects" in check.stdout and "a forward in eval mode changed" in check.stdout


@pytest.mark.parametrize("body,says", [
    ("def wrap_layer(self, layer):\n        layer.weight.data *= 1.0", "bad.wrap_layer(Conv2d) returned None; it must "
                                                                      "return an nn.Module"),
    ("def penalty(self, *, discriminator, real, fake):\n        return (real ** 2).flatten(1).mean(1)",
     "bad.penalty returned a tensor of shape [8]; it must return a scalar tensor"),
])
def test_check_plugin_names_the_hook_and_what_it_returned(tmp_path, body, says):
    (tmp_path / "bad.py").write_text("from benchmark.regularizers import Regularizer, register_regularizer\n\n\n"
                                     "@register_regularizer('bad')\nclass Bad(Regularizer):\n    " + body + "\n")
    check = regbench("check-plugin", "bad", "--plugin", str(tmp_path / "bad.py"))
    assert check.returncode == 1 and says in check.stdout, check.stdout[-2000:]
    assert "NoneType" not in check.stdout and "implicitly created only for scalar" not in check.stdout
