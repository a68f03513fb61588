"""Reconnect pacing and the executor's MESOS_* environment contract (pure)."""

from __future__ import annotations

import pytest

from mesosapi.backoff import Backoff
from mesosapi.executor import ExecutorEnvironment, parse_duration, parse_flag

BASE_ENV = {
    "MESOS_AGENT_ENDPOINT": "127.0.0.1:5051",
    "MESOS_FRAMEWORK_ID": "m-0000",
    "MESOS_EXECUTOR_ID": "o2-exec",
}


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    low = Backoff(initial=0.5, maximum=4.0, rng=lambda: 0.0)
    assert [low.next_delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    high = Backoff(initial=0.5, maximum=4.0, rng=lambda: 1.0)
    assert [high.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_backoff_reset_starts_over() -> None:
    b = Backoff(initial=1.0, maximum=8.0, rng=lambda: 1.0)
    b.next_delay()
    b.next_delay()
    b.reset()
    assert b.attempt == 0 and b.next_delay() == 1.0


def test_backoff_caps_attempts_per_second_even_when_every_attempt_fails_at_once() -> None:
    b = Backoff(rng=lambda: 0.0)
    elapsed, attempts = 0.0, 0
    while elapsed < 10.0:
        attempts += 1
        elapsed += b.next_delay()
    assert attempts / 10.0 <= 1.0


def test_backoff_rejects_a_zero_initial_delay() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5secs", 5.0), ("100ms", 0.1), ("15mins", 900.0), ("1.5hrs", 5400.0), ("2days", 172800.0)],
)
def test_mesos_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_bad_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="Mesos duration"):
        parse_duration("5 parsecs")


def test_checkpoint_zero_means_off_unlike_pymesos() -> None:
    assert parse_flag("0") is False and parse_flag("1") is True
    env = ExecutorEnvironment.from_env({**BASE_ENV, "MESOS_CHECKPOINT": "0"})
    assert env.checkpoint is False
    assert ExecutorEnvironment.from_env({**BASE_ENV, "MESOS_CHECKPOINT": "1"}).checkpoint


def test_executor_environment_reads_every_mesos_variable() -> None:
    env = ExecutorEnvironment.from_env(
        {
            **BASE_ENV,
            "MESOS_DIRECTORY": "/sandbox",
            "MESOS_CHECKPOINT": "1",
            "MESOS_RECOVERY_TIMEOUT": "15mins",
            "MESOS_SUBSCRIPTION_BACKOFF_MAX": "2secs",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "500ms",
        }
    )
    assert env.agent_endpoint == "127.0.0.1:5051"
    assert (env.framework_id, env.executor_id, env.directory) == ("m-0000", "o2-exec", "/sandbox")
    assert env.recovery_timeout == 900.0 and env.subscription_backoff_max == 2.0
    assert env.shutdown_grace_period == pytest.approx(0.5)


def test_missing_agent_endpoint_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MESOS_AGENT_ENDPOINT"):
        ExecutorEnvironment.from_env({"MESOS_FRAMEWORK_ID": "f", "MESOS_EXECUTOR_ID": "e"})


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MESOS_CHECKPOINT"):
        ExecutorEnvironment.from_env({**BASE_ENV, "MESOS_CHECKPOINT": "maybe"})
