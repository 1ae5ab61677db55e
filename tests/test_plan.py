from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SizeupError
from harness.records import Case
from harness.run.plan import Choices, build, parse_memory


def test_quick_suite_covers_every_model_at_all_cores() -> None:
    plan = build(Choices(), default_threads=2)
    assert plan.suite == "quick" and plan.settings.repeats == 2 and plan.settings.budget_s == 220
    ids = [c.id for c in plan.cases]
    # Each synthetic family's models start short sweeps that stop once past their fixed costs.
    swept = {c.workload: c.sweep for c in plan.cases if c.sweep}
    assert set(swept) == {"classification", "regression", "forecasting", "vision", "nlp"}
    assert all(s["past_fixed"] == 0.5 for s in swept.values())
    # Nothing at one size, which the summary would not use, takes from the sweeps' budget (a GPU's transformer
    # aside); the real-data checks, the seasonal baseline and out of core are in the full suite.
    assert {c.id for c in plan.cases if not c.sweep} == {"nlp/transformer@torch-cuda/n=10000/t=2"}
    full = {(c.workload, c.model) for c in build(Choices(suite="full"), default_threads=2).cases}
    assert {("breast_cancer", "xgboost"), ("diabetes", "hgb"), ("digits", "cnn"), ("forecasting", "seasonal_naive"),
            ("classification", "xgboost_external")} <= full
    assert len(ids) == len(set(ids))
    assert not any("@spark/" in i for i in ids)  # Spark's fixed costs would take make bench past 5 minutes


def test_cli_choices_filter_and_replace() -> None:
    plan = build(Choices(workloads=["classification"], backends=["sklearn"], sizes=[1000, 4000], threads=[1, 2],
                         repeats=1, timeout_s=5), default_threads=2)
    assert {(c.model, c.size, c.threads) for c in plan.cases} == {
        (m, s, t) for m in ("hgb", "linear") for s in (1000, 4000) for t in (1, 2)}
    assert plan.settings.repeats == 1 and plan.settings.timeout_s == 5


def test_a_workload_not_in_the_suite_can_be_asked_for() -> None:
    plan = build(Choices(workloads=["faulty"], models=["ok"]), default_threads=1)
    assert [c.id for c in plan.cases] == ["faulty/ok@numpy/n=100/t=1"]


def test_a_workload_of_your_own_data_is_refused_in_a_suite_that_names_no_data(tmp_path: Path) -> None:
    """Every case of such a suite had failed on a file named ''."""
    suite = tmp_path / "s.toml"
    suite.write_text('[[benchmark]]\nworkload = "user_classification"\nsizes = [1000]\n')
    for choices in (Choices(suite=str(suite)), Choices(workloads=["user_regression"])):
        with pytest.raises(SizeupError, match="--data PATH"):
            build(choices, 1)


def test_params_are_part_of_the_case_id(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('[[benchmark]]\nworkload = "faulty"\nmodels = ["ok"]\nparams = {tag = "x"}\n'
                     '[[benchmark]]\nworkload = "faulty"\nmodels = ["ok"]\n')
    ids = [c.id for c in build(Choices(suite=str(suite)), 1).cases]
    assert ids == ["faulty/ok@numpy/n=100/t=1,tag=x", "faulty/ok@numpy/n=100/t=1"]


def test_case_round_trips_through_a_dict() -> None:
    case = Case("faulty", "ok", "numpy", 10, 2, {"tag": "a"}, seed=7)
    assert Case.from_dict(case.to_dict()) == case


@pytest.mark.parametrize("text, expected", [("8GiB", 8 * 2**30), ("512MB", 512e6), ("1234", 1234), ("50%", 500)])
def test_memory_sizes(text: str, expected: float) -> None:
    assert parse_memory(text, total=1000) == int(expected)


@pytest.mark.parametrize("text", ["lots", "0", "-1GiB", "8 parsecs", ""])
def test_bad_memory_sizes(text: str) -> None:
    with pytest.raises(SizeupError, match="memory cap"):
        parse_memory(text, total=1000)


def test_choices_that_leave_nothing_are_an_error() -> None:
    with pytest.raises(SizeupError, match="no case to run"):
        build(Choices(workloads=["breast_cancer"], backends=["torch"]), 1)


def test_full_suite_has_three_sizes_per_synthetic_workload_each_2_to_4x_the_last() -> None:
    from workloads import catalogue

    plan = build(Choices(suite="full"), default_threads=2)
    sizes: dict[tuple[str, str], set[int]] = {}
    for c in plan.cases:
        sizes.setdefault((c.workload, c.model), set()).add(c.size)
    assert {w.family for w in catalogue().values() if any(name == w.name for name, _ in sizes)} == {
        "classification", "regression", "forecasting", "vision", "nlp"}
    for (name, _), found in sizes.items():
        if catalogue()[name].max_size is None:  # real datasets have one size
            ordered = sorted(found)
            assert len(ordered) >= 3, name
            assert all(2 <= b / a <= 4 for a, b in zip(ordered, ordered[1:])), (name, ordered)


def test_sizes_scale_synthetic_workloads_and_leave_real_datasets_alone() -> None:
    plan = build(Choices(suite="full", models=["linear"], backends=["sklearn"], sizes=[5000, 10000]), 2)
    assert sorted((c.workload, c.size) for c in plan.cases) == [
        ("breast_cancer", 569), ("classification", 5000), ("classification", 10000),
        ("diabetes", 442), ("regression", 5000), ("regression", 10000)]
    with pytest.raises(SizeupError, match="breast_cancer has 569 rows"):
        build(Choices(workloads=["breast_cancer"], sizes=[5000]), 2)


@pytest.mark.parametrize("value, message", [('"x"', "rerun_disturbed must be a whole number >= 0, got 'x'"),
                                            ("1.5", "rerun_disturbed must be a whole number >= 0, got 1.5"),
                                            ("-1", "rerun_disturbed must be a whole number >= 0, got -1")])
def test_rerun_disturbed_in_a_suite_is_validated(value: str, message: str, tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(f'rerun_disturbed = {value}\n[[benchmark]]\nworkload = "faulty"\n')
    with pytest.raises(SizeupError, match=message.replace("(", r"\(")):
        build(Choices(suite=str(suite)), default_threads=1)
    suite.write_text('rerun_disturbed = 2\n[[benchmark]]\nworkload = "faulty"\n')
    assert build(Choices(suite=str(suite), rerun_disturbed=3), 1).settings.rerun_disturbed == 3  # the flag wins
