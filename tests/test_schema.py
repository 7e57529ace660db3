"""The one declaration of a suite's and a run's fields (benchmark/schema.py), and what is read off it: the run
id, the result record, run_spec and docs/suites.md."""
import dataclasses
from pathlib import Path

import pytest

from benchmark.run import base_record
from benchmark.schema import IN_ID, IN_ID_UNLESS_DEFAULT, NOT_IN_ID, Evaluation, RunOptions, RunSpec, reference
from benchmark.suite import SuiteError, expand, load_suite, run_spec

ROOT = Path(__file__).resolve().parents[1]
TINY = {"dataset": "digits", "image_size": 8, "width": 0.125, "steps": 4, "batch_size": 8}


def changed(value):
    """Another valid value of a field's type, to see whether changing it moves the run id."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 8
    if isinstance(value, float):
        return value / 2
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "x"
    if isinstance(value, tuple):
        return value + (("x", 1),)
    if isinstance(value, Evaluation):
        return dataclasses.replace(value, fid_fake=value.fid_fake + 1)
    raise AssertionError(f"no other value for {value!r}")


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(RunSpec)])
def test_a_field_moves_the_run_id_exactly_when_its_declaration_says(name):
    spec = run_spec("spectral_norm", **TINY)
    declared = next(f for f in dataclasses.fields(RunSpec) if f.name == name)
    other = dataclasses.replace(spec, **{name: changed(getattr(spec, name))})
    moves = other.config_hash != spec.config_hash
    assert moves == (declared.metadata["in_id"] in (IN_ID, IN_ID_UNLESS_DEFAULT)), name


def test_a_switch_in_the_id_unless_default_keeps_old_ids_when_off():
    spec = run_spec("none", **TINY)
    assert "bf16" not in spec.config() and "kid_subsets" not in spec.config()["evaluation"]
    assert run_spec("none", **TINY, bf16=True).config()["bf16"] is True
    assert "real_is_split" not in spec.config()["evaluation"]  # declared not in the id at all


def test_the_result_record_holds_every_field_declared_recorded_under_its_key():
    spec = run_spec({"name": "wgan_gp", "label": "gp1", "params": {"gp_lambda": 1.0}}, "C", seed=3, **TINY)
    record = base_record(spec)
    for f in dataclasses.fields(RunSpec):
        key = f.metadata["record"]
        if key:
            assert (f.name if key is True else key) in record, f.name
        else:
            assert f.name not in record or f.name in ("regularizer",), f.name  # label is recorded as regularizer
    assert (record["regularizer"], record["regularizer_name"], record["params"]) == ("gp1", "wgan_gp", {"gp_lambda": 1.0})
    assert (record["setting"], record["seed"], record["n_dis"], record["z_dim"], record["split"]) == ("C", 3, 1, 128, "train")
    assert record["run_id"] == spec.run_id and record["status"] == "failed"  # nothing has run yet


def test_run_spec_is_the_run_a_suite_file_with_the_same_keys_expands_to(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text("dataset: digits\nimage_size: 8\nwidth: 0.125\nsteps: 4\nbatch_size: 8\n"
                    "regularizers: [orthonormal]\nsettings: [B]\nseeds: [5]\n")
    from_file = expand(load_suite(path))[0]
    made = run_spec("orthonormal", "B", seed=5, **TINY)
    assert made.run_id == from_file.run_id
    assert dataclasses.replace(made, suite="one", suite_sha256=None) == dataclasses.replace(from_file, suite_sha256=None)


def test_run_spec_validates_as_a_suite_does_and_makes_exactly_one_run():
    with pytest.raises(SuiteError, match=r"check: width: must be > 0 and at most 16"):
        run_spec("none", path="check", **{**TINY, "width": 99.0})
    with pytest.raises(SuiteError, match=r"settings\[0\]\.n_dis: must be from 1 to 100, got 0"):
        run_spec("none", {"name": "x", "lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 0}, **TINY)
    with pytest.raises(SuiteError, match="2 runs"):
        run_spec("none", {"grid": {"n_dis": [1, 5]}, "base": "D"}, **TINY)


def test_a_suite_passes_every_option_to_its_runs_unchanged_but_the_three_it_resolves():
    suite = load_suite(ROOT / "suites/fashion-mnist.yaml")
    for spec in expand(suite):
        for f in dataclasses.fields(RunOptions):
            if f.name not in ("loss", "steps", "g_batch_size"):
                assert getattr(spec, f.name) == getattr(suite, f.name), f.name


def test_the_suite_reference_in_docs_is_the_one_the_schema_writes():
    assert (ROOT / "docs/suites.md").read_text() == reference(), \
        "docs/suites.md is stale: python -m benchmark.schema > docs/suites.md"
    for f in [*dataclasses.fields(RunOptions), *dataclasses.fields(Evaluation)]:
        if f.metadata["yaml"] != "internal":
            assert f"| `{f.name}` |" in reference(), f.name
    assert NOT_IN_ID in reference()
