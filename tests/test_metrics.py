"""Scoring: torch-fidelity's metrics through our Scorer, checked against direct computations."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.linalg
import torch

from benchmark import cli, metrics
from benchmark.data import load_images
from benchmark.metrics import Scorer
from benchmark.schema import Evaluation

EVAL = Evaluation(is_samples=359, is_splits=10, fid_real_split="train", fid_real=1437, fid_fake=359)


@pytest.fixture(scope="module")
def scorer():
    return Scorer(dataset="digits", image_size=8, evaluation=EVAL)


@pytest.fixture(scope="module")
def test_split():
    return load_images("digits", split="test", size=8)


def noise(n, size=8, seed=0):
    return torch.from_numpy(np.random.RandomState(seed).randint(0, 256, (n, 1, size, size), dtype=np.uint8))


def direct_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def direct_is(logits: np.ndarray, splits: int) -> float:
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for chunk in np.array_split(p, splits):
        q = chunk.mean(0, keepdims=True)
        scores.append(np.exp((chunk * (np.log(chunk) - np.log(q))).sum(1).mean()))
    return float(np.mean(scores))


def test_real_vs_real_far_below_real_vs_noise_and_self_is_zero(scorer, test_split):
    real = scorer.score(test_split)["fid"]
    assert real * 5 < scorer.score(noise(len(test_split)))["fid"]
    train = load_images("digits", split="train", size=8)
    feats = scorer.features(train)[scorer.fid_layer]
    stats = metrics.fid_features_to_statistics(feats)
    assert metrics.fid_statistics_to_metric(stats, stats, verbose=False)[metrics.KEY_METRIC_FID] == pytest.approx(
        0.0, abs=1e-3)


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # dead ReLU features; FID still agrees
def test_fid_and_is_agree_with_direct_computation(scorer, test_split):
    feats = scorer.features(test_split)
    ours = scorer.score_features(feats)
    ref = scorer.reference["features"].double().numpy()
    assert ours["fid"] == pytest.approx(direct_fid(ref, feats[scorer.fid_layer].double().numpy()), rel=1e-4)
    # torch-fidelity shuffles before splitting (fixed seed); IS is order-dependent only through the splits,
    # so compare on one split, where order cannot matter
    one = metrics.isc_features_to_metric(feats[scorer.is_layer], splits=1)
    assert one[metrics.KEY_METRIC_ISC_MEAN] == pytest.approx(direct_is(feats[scorer.is_layer].double().numpy(), 1),
                                                             rel=1e-4)


def direct_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    # Kynkaanniemi et al. 2019: a sample of one set counts if it lies within the k-th-nearest-neighbour
    # distance (self excluded) of some sample of the other set
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]
    cross = np.linalg.norm(fake[:, None] - real[None], axis=-1)  # fake x real
    precision = (cross <= radii(real)[None]).any(1).mean()
    recall = (cross.T <= radii(fake)[None]).any(1).mean()
    return float(precision), float(recall)


def test_precision_recall_agree_with_direct_computation_and_see_a_collapse(scorer, test_split):
    feats = scorer.features(test_split)
    scores = scorer.score_features(feats)
    ref = scorer.reference["features"].double().numpy()
    fake = feats[scorer.fid_layer][: scorer.evaluation.fid_fake].double().numpy()
    p, r = direct_precision_recall(ref, fake, scorer.evaluation.prc_neighborhood)
    assert scores["precision"] == pytest.approx(p, abs=1e-6) and scores["recall"] == pytest.approx(r, abs=1e-6)
    assert scores["precision"] > 0.7 and scores["recall"] > 0.7  # held-out digits: good and covering
    # one digit repeated covers one mode: recall collapses
    ones = load_images("digits", split="test", size=8)[:1].repeat(len(test_split), 1, 1, 1)
    assert scorer.score(ones)["recall"] < 0.05
    assert "prc_neighborhood" in scorer.protocol()


def test_too_few_samples_for_k_neighbours_score_with_the_k_they_allow_and_record_it(scorer, test_split, tmp_path):
    from dataclasses import replace
    few = Scorer(dataset="digits", image_size=8, evaluation=replace(EVAL, fid_fake=3, is_samples=3, is_splits=1),
                 cache_dir=tmp_path)
    assert few.protocol()["prc_neighborhood"] == 2 and scorer.protocol()["prc_neighborhood"] == 3
    feats = few.features(test_split[:3])
    ref = few.reference["features"].double().numpy()
    p, r = direct_precision_recall(ref, feats[few.fid_layer].double().numpy(), 2)
    scores = few.score_features(feats)
    assert (scores["precision"], scores["recall"]) == (pytest.approx(p, abs=1e-6), pytest.approx(r, abs=1e-6))


def test_inception_score_of_real_digits_is_high_and_of_noise_near_one(scorer):
    # the training split: 10 splits of ~144 images, enough for each split's class marginal
    assert scorer.score(load_images("digits", split="train", size=8))["inception_score_mean"] > 8
    assert scorer.score(noise(500))["inception_score_mean"] < 1.6
    assert scorer.extractor_info["test_accuracy"] >= 0.97


def test_reference_is_cached_and_keyed_by_split_size_and_weights(tmp_path):
    first = Scorer(dataset="digits", image_size=8, evaluation=EVAL, cache_dir=tmp_path)
    first.reference
    assert first.extractor_runs == 1
    second = Scorer(dataset="digits", image_size=8, evaluation=EVAL, cache_dir=tmp_path)
    second.reference
    assert second.extractor_runs == 0  # read from disk
    other_split = Scorer(dataset="digits", image_size=8, cache_dir=tmp_path,
                         evaluation=Evaluation(**{**EVAL.__dict__, "fid_real_split": "test"}))
    other_split.reference
    assert other_split.extractor_runs == 1
    other_size = Scorer(dataset="digits", image_size=16, evaluation=EVAL, cache_dir=tmp_path)
    other_size.reference
    assert other_size.extractor_runs == 1
    # other weights: a copy of the classifier with one parameter changed
    state = metrics.scorers.read_weights(metrics.scorers.weights_path("digits-cnn"))
    state["classify.bias"] += 1.0
    (tmp_path / "other.safetensors").write_bytes(metrics.scorers.weights_bytes(state))
    other_weights = Scorer(dataset="digits", image_size=8, evaluation=EVAL, cache_dir=tmp_path,
                           weights_path=str(tmp_path / "other.safetensors"))
    assert other_weights.weights_hash != first.weights_hash
    other_weights.reference
    assert other_weights.extractor_runs == 1
    assert len(list(tmp_path.glob("ref-*.pt"))) == 4


def test_protocol_records_counts_split_extractor_and_hash(scorer):
    p = scorer.protocol()
    assert (p["is_samples"], p["is_splits"], p["fid_real"], p["fid_fake"]) == (359, 10, 1437, 359)
    assert p["fid_real_split"] == "train" and p["feature_extractor"] == "digits-cnn"
    assert p["feature_extractor_weights_sha256"] == scorer.weights_hash


def test_real_data_row_scores_the_held_out_split(scorer):
    row = scorer.real_data()
    assert row["split"] == "test" and row["samples"] == 359
    assert row["inception_score_mean"] > 7  # splits of 36 images: IS is biased low on small splits
    assert row["fid"] * 5 < scorer.score(noise(359))["fid"]


def test_offline_without_inception_weights_fails_fast(tmp_path):
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "REGBENCH_INCEPTION_WEIGHTS": ""}
    images = tmp_path / "x.npz"
    np.savez(images, images=np.zeros((20, 32, 32, 3), np.uint8))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmark", "score", str(images), "--dataset", "cifar10",
                           "--data-root", str(tmp_path)], capture_output=True, text=True, env=env)
    assert time.perf_counter() - start < 30
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert cli.INCEPTION_FILE in proc.stderr
    assert "--inception-weights" in proc.stderr and "REGBENCH_INCEPTION_WEIGHTS" in proc.stderr


def test_cli_names_the_inception_file_metrics_loads():
    assert cli.INCEPTION_FILE == metrics.INCEPTION_FILE and cli.INCEPTION_ENV == metrics.INCEPTION_ENV


def test_weights_hash_covers_every_tensor_including_scalar_buffers():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))  # num_batches_tracked is 0-d
    before = metrics.module_hash(net)
    net[1].num_batches_tracked += 1
    assert metrics.module_hash(net) != before
