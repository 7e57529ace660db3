"""The paper's experiments as suites: every run carries Table 1's values (read from the reference data)."""
from pathlib import Path

import pytest

from benchmark import paper
from benchmark.suite import expand, load_suite, load_suites

SUITES = Path(__file__).resolve().parents[1] / "suites"
SEVEN = {"weight_clipping", "wgan_gp", "batch_norm", "layer_norm", "weight_norm", "orthonormal", "spectral_norm"}


def optimizer(run):
    return {"lr": run.lr, "beta1": run.beta1, "beta2": run.beta2, "n_dis": run.n_dis}


@pytest.mark.parametrize("name,dataset,size,steps", [("paper-cifar10", "cifar10", 32, 100000),
                                                      ("paper-stl10", "stl10", 48, 100000)])
def test_standard_cnn_suites(name, dataset, size, steps):
    suite = load_suite(SUITES / f"{name}.yaml")
    runs = expand(suite)
    assert (suite.dataset, suite.image_size, suite.architecture, suite.batch_size) == (dataset, size,
                                                                                      "standard_cnn", 64)
    assert {r.regularizer for r in runs} >= SEVEN
    table1 = paper.paper()["settings"]
    for label in {r.label for r in runs}:
        mine = {r.setting: optimizer(r) for r in runs if r.label == label}
        assert mine == table1, label  # all six settings, exactly as Table 1
    labels = {r.label: r for r in runs}
    assert labels["spectral_norm_hinge"].loss == "hinge" and labels["orthonormal_hinge"].loss == "hinge"
    assert labels["gan_gp"].regularizer == "wgan_gp" and labels["gan_gp"].loss == "standard"
    assert labels["wgan_gp"].loss == "wasserstein" and labels["weight_clipping"].loss == "standard"
    protocol = paper.paper()["protocol"]
    ev = suite.evaluation
    assert (ev.is_samples, ev.is_splits, ev.fid_real, ev.fid_fake) == (
        protocol["is_samples"], protocol["is_splits"], protocol["fid_real"], protocol["fid_fake"])
    assert ev.real_is_split == suite.split  # the real-data IS: the training images, as Table 2's 11.24
    assert all((r.init, r.d_passes, r.latent) == (protocol["init"], protocol["d_passes"], protocol["latent"])
               for r in runs)
    assert all(r.steps == protocol["generator_updates"] * (2 if "2x_updates" in r.label else 1) for r in runs)
    if dataset == "stl10":
        assert {"orthonormal_2x_updates", "spectral_norm_2x_updates", "spectral_norm_hinge_2x_updates"} <= set(labels)
    # every Table 2 row of this dataset has a run with the same label
    assert set(paper.table2(dataset, "standard_cnn")) <= set(labels)


def test_resnet_suites():
    suites = load_suites(SUITES / "paper-resnet.yaml")
    assert [(s.dataset, s.image_size) for s in suites] == [("cifar10", 32), ("stl10", 48)]
    for suite in suites:
        runs = expand(suite)
        assert {r.regularizer for r in runs} == {"spectral_norm", "orthonormal"}
        assert all(r.architecture == "resnet" and r.loss == "hinge" for r in runs)
        assert all(optimizer(r) == paper.paper()["resnet_setting"] for r in runs)
        want = paper.paper()["resnet_protocol"]
        assert all((r.lr_decay, r.g_batch_size, r.batch_size) == (want["lr_decay"], want["g_batch_size"], 64)
                   for r in runs)
        assert suite.evaluation.is_samples == paper.paper()["protocol"]["is_samples"]
        assert set(paper.table2(suite.dataset, "resnet")) == {r.label for r in runs}


def test_ndis_suite():
    runs = expand(load_suite(SUITES / "ndis.yaml"))
    d = paper.paper()["settings"]["D"]
    assert sorted({r.n_dis for r in runs}) == [1, 2, 5, 10, 20]
    assert all((r.lr, r.beta1, r.beta2) == (d["lr"], d["beta1"], d["beta2"]) for r in runs)
    assert {r.regularizer for r in runs} == {"weight_norm", "spectral_norm"} and {r.steps for r in runs} == {10000}
    assert {(r.evaluation.is_samples, r.d_passes) for r in runs} == {(50000, "separate")}


def test_sndcgan_control_runs_table3_against_the_authors_public_sndcgan():
    table3, authors = load_suites(SUITES / "paper-sndcgan.yaml")
    assert (table3.architecture, table3.latent) == ("standard_cnn", "normal")
    assert (authors.architecture, authors.latent) == ("sndcgan", "uniform")
    for suite in (table3, authors):  # everything else equal, the authors' protocol, several seeds
        assert {r.setting for r in expand(suite)} == {"C"} and len(suite.seeds) >= 3
    assert {k: v for k, v in vars(table3).items() if k not in ("name", "path", "architecture", "latent")} == \
        {k: v for k, v in vars(authors).items() if k not in ("name", "path", "architecture", "latent")}


def test_plan_shows_the_paper_protocol(capsys):
    from benchmark.cli import main

    assert main(["plan", str(SUITES / "paper-cifar10.yaml")]) == 0
    out = capsys.readouterr().out
    assert "IS 50,000 generated in 10 splits" in out and "FID 10,000 real (train) vs 5,000 generated" in out
    assert "init paper" in out and "D passes separate" in out


def test_every_suite_in_the_repo_loads():
    for path in SUITES.glob("*.yaml"):
        assert all(expand(s) for s in load_suites(path)), path


def test_the_default_compares_over_seeds_and_n_dis_and_the_digits_paper_suite_is_the_papers_grid():
    default = load_suite(SUITES / "default.yaml")
    runs = expand(default)
    assert len(default.seeds) >= 10 and {r.n_dis for r in runs} == {1, 5} and default.fuse >= 10
    assert {r.regularizer for r in runs} == SEVEN | {"none"}
    # one budget at both n_dis (else the n_dis finding confounds n_dis with training length), the authors' D
    # passes for every regularizer (else batch norm is timed under another protocol), FID at 1/4 and 1/2
    assert len({r.steps for r in runs}) == 1 and {r.d_passes for r in runs} == {"separate"}
    assert runs[0].steps % (4 * default.evaluation.history_every) == 0
    beyond = {r.run_id for r in expand(load_suite(SUITES / "beyond.yaml"))}
    assert len({r.run_id for r in runs} & beyond) == 3 * 2 * len(default.seeds)  # none, SN, WGAN-GP: shared
    evidence = load_suite(SUITES / "digits-paper.yaml")
    runs = expand(evidence)
    assert len(runs) == 8 * 6 * 10 and {r.setting for r in runs} == set("ABCDEF")
    table1 = paper.paper()["settings"]
    assert all(optimizer(r) == table1[r.setting] for r in runs)
    # one budget for every setting (as the paper), and the authors' two D passes for every regularizer
    assert len({r.steps for r in runs}) == 1 and {r.d_passes for r in runs} == {"separate"}
    # FID history at 1/4 and 1/2 of the training, where the report reads each verdict again
    assert runs[0].steps % (4 * evidence.evaluation.history_every) == 0
