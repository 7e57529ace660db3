"""Suite validation and expansion: bad input is refused before anything runs, naming file and field."""
import pytest

from benchmark import paper
from benchmark.cli import main
from benchmark.suite import expand, load_suite

BAD = [
    ({"colour": "red"}, (), "colour"),
    ({"steps": "many"}, (), "steps"),
    ({"steps": 0}, (), "steps"),
    ({"regularizers": ["none", "dropout"]}, (), "regularizers[1].name"),
    ({"regularizers": [{"name": "wgan_gp", "params": {"lambda": 1}}]}, (), "regularizers[0].params"),
    ({"dataset": "mnist"}, (), "dataset"),
    ({"settings": ["Z"]}, (), "settings[0]"),
    ({"settings": [{"name": "x", "lr": -1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 1}]}, (), "settings[0].lr"),
    ({"settings": [{"name": "x", "lr": 1e-4, "beta1": 1.0, "beta2": 0.9, "n_dis": 1}]}, (), "settings[0].beta1"),
    ({"settings": [{"name": "x", "lr": 1e-4, "beta1": 0.5, "beta2": -0.1, "n_dis": 1}]}, (), "settings[0].beta2"),
    ({"width": True}, (), "width"),
    ({"evaluation": {"is_sample": 10}}, (), "evaluation.is_sample"),
    ({}, ("steps",), "steps"),
    ({"image_size": 12}, (), "image_size"),
    ({"settings": [{"name": "x", "base": "Q"}]}, (), "settings[0].base"),
    ({"regularizers": [{"name": "none", "steps": 0}]}, (), "regularizers[0].steps"),
    ({"success_fid": 0}, (), "success_fid"),
    ({"seeds": [0, 0]}, (), "seeds[1]"),
    ({"seeds": [-1]}, (), "seeds[0]"),
    ({"seeds": [2 ** 64]}, (), "seeds[0]"),
    ({"batch_size": 1}, (), "batch_size"),
    ({"batch_size": 5000}, (), "batch_size"),  # more than the digits' training split
    ({"g_batch_size": 1}, (), "g_batch_size"),
    ({"success_fid": "low"}, (), "success_fid"),
]


@pytest.mark.parametrize("overrides,drop,field", BAD)
def test_bad_suite_exits_2_naming_file_and_field(write_suite, tmp_path, capsys, overrides, drop, field):
    path = write_suite(overrides, drop=drop)
    code = main(["run", str(path), "--results", str(tmp_path / "results"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err and field in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_unparseable_yaml_is_refused(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("dataset: [digits\n")
    assert main(["plan", str(path)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_missing_file_is_refused(tmp_path, capsys):
    assert main(["plan", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read suite" in capsys.readouterr().err


def test_expansion_is_the_cross_product_with_paper_settings(write_suite):
    suite = load_suite(write_suite({"seeds": [0, 1]}))
    runs = expand(suite)
    assert len(runs) == 2 * 2 * 2
    assert len({r.run_id for r in runs}) == len(runs)
    table1 = paper.settings()
    for run in runs:
        assert (run.lr, run.beta1, run.beta2, run.n_dis) == tuple(table1[run.setting][k]
                                                                  for k in ("lr", "beta1", "beta2", "n_dis"))


def test_custom_settings_and_regularizer_variants(write_suite):
    suite = load_suite(write_suite({
        "settings": [{"name": "fast", "lr": 1e-3, "beta1": 0.0, "beta2": 0.9, "n_dis": 2}],
        "regularizers": ["spectral_norm", {"name": "spectral_norm", "label": "sn_hinge", "loss": "hinge"},
                         "wgan_gp"]}))
    runs = {r.label: r for r in expand(suite)}
    assert runs["sn_hinge"].loss == "hinge" and runs["spectral_norm"].loss == "standard"
    assert runs["wgan_gp"].loss == "wasserstein"  # the regularizer's own loss wins over the suite's
    assert runs["sn_hinge"].run_id != runs["spectral_norm"].run_id
    assert all(r.setting == "fast" and r.n_dis == 2 and r.beta1 == 0.0 for r in runs.values())


def test_run_id_depends_on_config_not_on_file_order(write_suite):
    a = {r.run_id for r in expand(load_suite(write_suite(name="a")))}
    b = {r.run_id for r in expand(load_suite(write_suite({"regularizers": ["spectral_norm", "none"],
                                                          "settings": ["D", "C"]}, name="b")))}
    assert a == b


def test_plan_prints_every_run(write_suite, capsys):
    assert main(["plan", str(write_suite())]) == 0
    out = capsys.readouterr().out
    assert "4 runs" in out and "spectral_norm" in out and "0.001" in out


def test_a_file_of_several_suites_needs_names(tmp_path, capsys):
    path = tmp_path / "two.yaml"
    path.write_text("dataset: digits\nregularizers: [none]\nsettings: [C]\nsteps: 1\n---\n"
                    "dataset: digits\nregularizers: [none]\nsettings: [D]\nsteps: 1\n")
    assert main(["plan", str(path)]) == 2
    assert "document 1: name: missing" in capsys.readouterr().err


def test_setting_from_a_named_base(write_suite):
    (run,) = expand(load_suite(write_suite({"settings": [{"name": "D1", "base": "D", "n_dis": 1}],
                                            "regularizers": ["none"]})))
    d = paper.settings()["D"]
    assert (run.setting, run.lr, run.beta1, run.beta2, run.n_dis) == ("D1", d["lr"], d["beta1"], d["beta2"], 1)


@pytest.mark.parametrize("flag,value", [("--cpus-per-run", "0"), ("--gpus-per-run", "-1"), ("--workers", "0"),
                                        ("--max-steps", "x")])
def test_bad_run_flags_exit_2_naming_the_flag(write_suite, capsys, flag, value):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(write_suite()), flag, value])
    assert exc.value.code == 2 and flag in capsys.readouterr().err


def test_success_fid_is_the_reports_not_the_runs(write_suite):
    plain, strict = load_suite(write_suite()), load_suite(write_suite({"success_fid": 90}, name="strict"))
    assert strict.success_fid == 90.0 and plain.success_fid is None
    assert [s.run_id for s in expand(plain)] == [s.run_id for s in expand(strict)]  # same runs, same results


@pytest.mark.parametrize("value", ["0", "-3", "inf", "x"])
def test_bad_success_fid_flag_exits_2(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path), "--success-fid", value])
    assert exc.value.code == 2 and "--success-fid" in capsys.readouterr().err


def _refused(path, capsys):
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and str(path) in err
    return err


def test_an_alias_bomb_in_params_is_refused_in_one_short_line(tmp_path, capsys):
    # nine levels of nine references, inside the value: 387 million items if anything expanded them
    levels = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("dataset: digits\nsteps: 4\nsettings: [C]\n"
                    f"regularizers: [{{name: wgan_gp, params: {{gp_lambda: [{', '.join(levels)}]}}}}]\n")
    err = _refused(path, capsys)
    assert len(err) < 600 and "regularizers[0].params" in err and "gp_lambda" in err


def test_a_suite_file_past_a_megabyte_is_refused(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text("dataset: digits\nsteps: 4\nsettings: [C]\nregularizers: [none]\nseeds: ["
                    + ", ".join(map(str, range(200_000))) + "]\n")
    assert "more than a suite may have" in _refused(path, capsys)


def test_too_few_samples_for_the_splits_gives_both_numbers(write_suite, capsys):
    err = _refused(write_suite({"evaluation": {"is_samples": 5, "is_splits": 10}}), capsys)
    assert "5 is fewer than is_splits (10)" in err
