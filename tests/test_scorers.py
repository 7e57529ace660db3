"""Shipped scorers: loaded by sha256, never trained at run time, the same instrument id in every result, and
validated as instruments (floor, corruptions, class dropping)."""
import dataclasses
import json
import shutil
import subprocess
import sys

import pytest
import torch

from benchmark import scorers
from benchmark.data import FASHION_DEBIAN
from benchmark.errors import FeatureExtractorUnavailable
from benchmark.metrics import Scorer
from benchmark.scorers import classifier
from benchmark.schema import Evaluation

real_fashion = pytest.mark.skipif(not (FASHION_DEBIAN / "t10k-images-idx3-ubyte.gz").is_file(),
                                  reason="Debian's dataset-fashion-mnist is not installed (CI installs it)")
EVAL = Evaluation(is_samples=100, is_splits=2, fid_real=300, fid_fake=100)


@pytest.mark.parametrize("name", sorted(scorers.SCORERS))
def test_every_scorer_ships_pinned_small_weights_of_the_stated_accuracy(name):
    entry = scorers.manifest()[name]
    path = scorers.weights_path(name)
    assert path.stat().st_size == entry["bytes"] < 2_000_000
    assert entry["test_accuracy"] >= scorers.SCORERS[name].min_test_accuracy
    net, info = scorers.load(name)
    assert info["pinned"] and info["file_sha256"] == entry["sha256"]
    assert sum(p.numel() for p in net.parameters()) == entry["params"]


def test_the_hash_results_record_is_the_manifests():
    scorer = Scorer(dataset="digits", image_size=8, evaluation=EVAL)
    assert scorer.weights_hash == scorers.manifest()["digits-cnn"]["module_hash"]
    assert scorer.protocol()["feature_extractor_info"]["pinned"] is True


def test_scoring_with_an_empty_cache_trains_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "empty"))

    def refuse(*args, **kwargs):
        raise AssertionError("a scorer was trained at run time")

    monkeypatch.setattr(classifier, "train", refuse)
    scorer = Scorer(dataset="digits", image_size=8, evaluation=EVAL, cache_dir=tmp_path / "empty")
    scores = scorer.score(torch.randint(0, 256, (100, 1, 8, 8), dtype=torch.uint8), kid=False)
    assert scores["fid"] > 0
    # the cache holds derived data only: reference statistics keyed by the weights' hash, no weights
    assert [p.name.endswith(f"-{scorer.weights_hash}.pt") for p in (tmp_path / "empty").glob("*.pt")] == [True]


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """The package's weights folder copied aside, so a test can damage it."""
    folder = tmp_path / "weights"
    shutil.copytree(scorers.WEIGHTS, folder)
    monkeypatch.setattr(scorers, "WEIGHTS", folder)
    monkeypatch.setattr(scorers, "MANIFEST", folder / "manifest.json")
    return folder


def test_altered_weights_are_refused_naming_both_hashes(shipped_copy):
    path = shipped_copy / scorers.SCORERS["digits-cnn"].file
    state = scorers.read_weights(path)
    state["classify.bias"] += 1e-3
    path.write_bytes(scorers.weights_bytes(state))
    with pytest.raises(FeatureExtractorUnavailable, match="not the pinned") as info:
        Scorer(dataset="digits", image_size=8, evaluation=EVAL)
    assert scorers.manifest()["digits-cnn"]["sha256"][:16] in str(info.value)


def test_missing_weights_are_one_clear_error_not_a_retrain(shipped_copy, monkeypatch):
    (shipped_copy / scorers.SCORERS["digits-cnn"].file).unlink()
    monkeypatch.setattr(classifier, "train", lambda *a, **k: pytest.fail("retrained"))
    with pytest.raises(FeatureExtractorUnavailable, match="missing"):
        scorers.weights_path("digits-cnn")
    entries = json.loads((shipped_copy / "manifest.json").read_text())
    del entries["digits-cnn"]
    (shipped_copy / "manifest.json").write_text(json.dumps(entries))
    with pytest.raises(FeatureExtractorUnavailable, match="python -m benchmark.scorers train digits-cnn"):
        scorers.weights_path("digits-cnn")


def test_the_cli_says_so_in_one_line_with_exit_2(tmp_path):
    """A user whose package lost its weights: `regbench score` prints one line, no traceback."""
    from benchmark import cli

    folder = tmp_path / "pkg"
    shutil.copytree(scorers.WEIGHTS.parent.parent, folder / "benchmark",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "benchmark" / "scorers" / "weights" / scorers.SCORERS["digits-cnn"].file).unlink()
    done = subprocess.run([sys.executable, "-m", "benchmark", "score", "digits:test", "--dataset", "digits"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == cli.EXIT_BAD_INPUT
    assert "Traceback" not in done.stderr and "missing" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_training_is_deterministic_on_one_machine():
    spec = dataclasses.replace(scorers.SCORERS["digits-cnn"], epochs=1)
    threads = torch.get_num_threads()
    first, acc1 = classifier.train(spec, progress=False, threads=1)
    second, acc2 = classifier.train(spec, progress=False, threads=1)
    # the process gets its own settings back: a later run here must not train at the scorer's thread count
    assert torch.get_num_threads() == threads and not torch.are_deterministic_algorithms_enabled()
    assert acc1 == acc2
    for (k, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), k


def test_the_shipped_accuracy_is_what_the_weights_score_on_the_test_split():
    spec = scorers.SCORERS["digits-cnn"]
    net, info = scorers.load("digits-cnn")
    x, y = spec.split_fn("test")
    with torch.no_grad():
        accuracy = (net(classifier.prepare(x, spec))[1].argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(info["test_accuracy"], abs=1e-6)


def _validated(name, **kwargs):
    from benchmark.scorers.validate import validate, verdicts

    table = validate(name, **kwargs)
    failed = [check for check, ok in verdicts(table).items() if not ok]
    assert not failed, f"{name} fails {failed}:\n{table.to_string()}"
    return table


def test_digits_cnn_is_an_instrument():
    table = _validated("digits-cnn")
    assert len(table) == 2 + 15 + 4


@real_fashion
def test_fashion_cnn_is_an_instrument():
    from benchmark.scorers.validate import Sizes

    _validated("fashion-cnn", sizes=Sizes(reference=10000, evaluated=2000))


@real_fashion
def test_fashion_cnn_reaches_its_stated_test_accuracy():
    spec = scorers.SCORERS["fashion-cnn"]
    net, info = scorers.load("fashion-cnn")
    x, y = spec.split_fn("test")
    with torch.no_grad():
        predicted = torch.cat([net(classifier.prepare(x[i:i + 2000], spec))[1].argmax(1)
                               for i in range(0, len(x), 2000)])
    accuracy = (predicted == y).float().mean().item()
    assert accuracy >= 0.90 and accuracy == pytest.approx(info["test_accuracy"], abs=1e-6)
