"""The sim build's progress estimate: by the last build's durations, never finished early."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from berth.sim.progress import DEFAULT_SECONDS, BuildProgress, load_durations, save_durations


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_fraction_and_estimate_follow_the_recorded_durations() -> None:
    clock = Clock()
    p = BuildProgress(["kube-apiserver", "etcd"], {"kube-apiserver": 300, "etcd": 100}, clock)
    assert p.snapshot().fraction == 0
    assert p.snapshot().remaining == 400
    p.begin("kube-apiserver", "Kubernetes")
    clock.t += 150
    snap = p.snapshot()
    assert snap.step == "Kubernetes"
    assert snap.fraction == 150 / 400
    assert snap.remaining == 150 + 100
    assert "step 1/2" in snap.line()
    p.begin("etcd", "etcd")  # Kubernetes took 200 s, less than expected
    clock.t += 50
    assert p.snapshot().fraction == (300 + 50) / 400
    assert p.snapshot().done_steps == 1
    clock.t += 50
    took = p.finish()
    assert took == {"kube-apiserver": 150, "etcd": 100}
    assert p.snapshot().fraction == 1


def test_a_step_past_its_estimate_is_never_shown_finished() -> None:
    clock = Clock()
    p = BuildProgress(["kwok"], {"kwok": 10}, clock)
    p.begin("kwok", "kwok")
    clock.t += 1000
    snap = p.snapshot()
    assert snap.fraction < 1
    assert snap.remaining > 0


def test_a_first_build_uses_the_defaults() -> None:
    p = BuildProgress(["kube-apiserver", "kustomize"], {}, Clock())
    assert (
        p.snapshot().remaining == DEFAULT_SECONDS["kube-apiserver"] + DEFAULT_SECONDS["kustomize"]
    )


@given(
    st.lists(st.floats(min_value=0, max_value=5000), min_size=1, max_size=4),
    st.lists(st.floats(min_value=1, max_value=5000), min_size=4, max_size=4),
)
def test_progress_never_goes_backwards(steps: list[float], expected: list[float]) -> None:
    keys = ["kube-apiserver", "etcd", "kwok", "kustomize"][: len(steps)]
    clock = Clock()
    p = BuildProgress(keys, dict(zip(keys, expected, strict=False)), clock)
    last = 0.0
    for key, spent in zip(keys, steps, strict=True):
        p.begin(key, key)
        for part in (spent / 3, spent / 3, spent / 3):
            clock.t += part
            f = p.snapshot().fraction
            assert last - 1e-9 <= f <= 1
            last = f
    p.finish()
    assert p.snapshot().fraction == 1


def test_durations_are_merged_and_survive_garbage(tmp_path: Path) -> None:
    path = tmp_path / "build-seconds.json"
    assert load_durations(path) == {}
    save_durations(path, {"etcd": 80.04})
    save_durations(path, {"kwok": 50})
    assert load_durations(path) == {"etcd": 80.0, "kwok": 50}
    path.write_text("{not json")
    assert load_durations(path) == {}
