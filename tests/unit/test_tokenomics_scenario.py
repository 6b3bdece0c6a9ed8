"""Scenario files: the shipped ones load, and bad ones are refused naming file, line, field."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError

from berth.tokenomics.scenario import (
    BUILTIN,
    Scenario,
    load_builtin,
    load_scenario,
    load_scenario_text,
)
from berth.yamlfile import FileError

REFERENCE = (
    resources.files("berth.tokenomics").joinpath("scenarios", "c845a.yaml").read_text("utf-8")
)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in the text")


def refused(text: str) -> str:
    with pytest.raises(FileError) as info:
        load_scenario_text(text, "s.yaml")
    return str(info.value)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scenarios_load_and_convert(name: str) -> None:
    s = load_builtin(name)
    inputs = s.to_domain()
    assert inputs.fleet.serving_gpus > 0
    assert abs(sum(m.share for m in inputs.workload.classes) - 1) < 1e-6
    assert inputs.apis
    assert inputs.demand is not None


def test_reference_is_the_c845a_layout() -> None:
    s = load_scenario(None)
    assert s.name == "c845a"
    inputs = s.to_domain()
    assert inputs.fleet.server.gpus == 2
    assert inputs.fleet.servers == 1
    assert inputs.fleet.spare_servers == 0
    slice_class, whole_class = inputs.workload.classes
    assert slice_class.gpus_per_replica == 0.25  # one 1g.24gb slice of four
    assert whole_class.gpus_per_replica == 1.0
    assert inputs.demand is not None
    assert inputs.demand.classes[0].tokens_per_year == 300_000_000 * 365


def test_load_scenario_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(REFERENCE.replace("utilization: 0.4", "utilization: 0.7"), encoding="utf-8")
    assert load_scenario(path).utilization == 0.7
    with pytest.raises(FileError, match=r"missing\.yaml:0: cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_utilization_above_one_is_refused_with_its_line() -> None:
    text = REFERENCE.replace("utilization: 0.4", "utilization: 1.3")
    msg = refused(text)
    assert f"s.yaml:{line_of(text, 'utilization: 1.3')}: utilization: " in msg
    assert "less than or equal to 1" in msg


def test_zero_utilization_is_refused() -> None:
    msg = refused(REFERENCE.replace("utilization: 0.4", "utilization: 0"))
    assert "utilization: Input should be greater than 0" in msg


def test_negative_price_is_refused_with_its_line() -> None:
    text = REFERENCE.replace("gpu_price: 9000", "gpu_price: -9000")
    msg = refused(text)
    assert f"s.yaml:{line_of(text, 'gpu_price: -9000')}: server.gpu_price: " in msg
    assert "greater than or equal to 0" in msg
    api = REFERENCE.replace("input_price: 0.15", "input_price: -0.15")
    assert "apis.1.input_price: Input should be greater than or equal to 0" in refused(api)


def test_shares_not_summing_to_one_are_refused() -> None:
    text = REFERENCE.replace("share: 0.92", "share: 0.82")
    msg = refused(text)
    assert f"s.yaml:{line_of(text, 'classes:')}: workload.classes: " in msg
    assert "shares must add up to 1, they add up to 0.9" in msg


def test_shares_within_tolerance_are_accepted() -> None:
    text = REFERENCE.replace("share: 0.92", "share: 0.9200000001")
    assert load_scenario_text(text).workload.classes[0].share == 0.9200000001


def test_every_problem_is_reported_at_once() -> None:
    text = REFERENCE.replace("pue: 1.56", "pue: 0.9").replace("life_years: 5", "life_years: 0")
    msg = refused(text)
    assert "costs.pue: Input should be greater than or equal to 1" in msg
    assert "costs.life_years: Input should be greater than 0" in msg


def test_unknown_model_class_in_demand_points_at_it() -> None:
    text = REFERENCE.replace("{model: 70B, tokens_per_day", "{model: 700B, tokens_per_day")
    msg = refused(text)
    line = line_of(text, "model: 700B")
    assert f"s.yaml:{line}: sizing.demand.1.model: unknown model class '700B'" in msg


def test_unknown_model_class_of_an_api_points_at_it() -> None:
    text = REFERENCE.replace("model_class: 70B", "model_class: 7B")
    msg = refused(text)
    assert f"s.yaml:{line_of(text, 'model_class: 7B')}: apis.3.model_class: unknown" in msg


def test_a_replica_must_fit_in_one_server() -> None:
    text = REFERENCE.replace("      gpus: 1\n", "      gpus: 4\n")
    msg = refused(text)
    assert "workload.classes.1.gpus: a replica cannot span servers: 4 > 2 GPUs" in msg


def test_mig_slices_need_the_servers_slice_count() -> None:
    no_slices = REFERENCE.replace("  mig_slices_per_gpu: 4", "")
    assert "workload.classes.0.mig_slices: needs server.mig_slices_per_gpu" in refused(no_slices)
    too_many = REFERENCE.replace("mig_slices: 1", "mig_slices: 5")
    assert "workload.classes.0.mig_slices: more than the 4 slices of one GPU" in refused(too_many)


def test_gpus_or_mig_slices_not_both() -> None:
    text = REFERENCE.replace("mig_slices: 1", "mig_slices: 1\n      gpus: 1")
    assert "give either gpus or mig_slices" in refused(text)


def test_typos_are_refused_not_ignored() -> None:
    text = REFERENCE.replace("pue: 1.56", "pue: 1.56\n  pue_typo: 2")
    assert "costs.pue_typo: Extra inputs are not permitted" in refused(text)


def test_load_below_idle_and_double_redundancy_are_refused() -> None:
    text = REFERENCE.replace("load_watts: 1800", "load_watts: 100")
    assert "server.load_watts: must be >= idle_watts" in refused(text)
    both = REFERENCE.replace("{n_plus: 0}", "{n_plus: 1, percent: 10}")
    assert "fleet.redundancy: Value error, give n_plus or percent, not both" in refused(both)


def test_infinite_and_not_a_number_are_refused() -> None:
    assert "costs.electricity_price" in refused(
        REFERENCE.replace("electricity_price: 0.13", "electricity_price: .inf")
    )


def test_an_empty_value_is_a_file_error_not_a_crash() -> None:
    # `key:` with nothing after it is valid YAML (null); it must come back as a FileError.
    text = re.sub(r"(?m)^description: .*$", "description:", REFERENCE)
    assert "s.yaml:" in refused(text)
    assert "s.yaml:" in refused("name:\n")


def test_no_tokens_demanded_is_refused() -> None:
    text = REFERENCE.replace("tokens_per_day: 300000000", "tokens_per_day: 0").replace(
        "tokens_per_day: 60000000", "tokens_per_day: 0"
    )
    assert "sizing.demand: asks for no tokens" in refused(text)


def test_with_utilization_checks_like_the_file() -> None:
    s = load_builtin()
    assert s.with_utilization(0.8).utilization == 0.8
    assert s.with_utilization(None) is s
    with pytest.raises(ValidationError):
        s.with_utilization(1.3)


def test_the_model_doubles_as_a_request_body() -> None:
    body = load_builtin().model_dump()
    assert Scenario.model_validate(body) == load_builtin()
    body["workload"]["classes"][0]["share"] = 0.5
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(body)
    assert info.value.errors()[0]["loc"] == ("workload", "classes")
