"""Secret values are found by variable name and masked; hook environments are an allow-list."""

from __future__ import annotations

from controller.redact import MESSAGE_LIMIT, TRUNCATED, Redactor, cap, hook_environment


def test_values_of_secret_named_variables_are_masked_longest_first() -> None:
    environ = {
        "O2_ETCD_PASSWORD": "hunter2-long",
        "API_TOKEN": "hunter2",
        "GIT_SSH_KEY": "/k/id",
        "HOME": "/home/o2",
        "FEATURE_KEY": "1",
    }
    redact = Redactor.from_environ(environ, extra=["store-pw", None])
    text = "a hunter2-long b hunter2 c /k/id d /home/o2 e 1 f store-pw"
    assert redact(text) == "a *** b *** c *** d /home/o2 e 1 f ***"
    assert redact.count == 4  # "1" is too short to be a secret worth garbling messages for


def test_no_secrets_leave_text_alone() -> None:
    assert Redactor()("a.b*c") == "a.b*c"


def test_cap_keeps_short_text_and_marks_a_cut() -> None:
    assert cap("short") == "short"
    long = cap("x" * 5000)
    assert len(long) == MESSAGE_LIMIT and long.endswith(TRUNCATED)


def test_hook_environment_keeps_only_the_allow_list_then_the_workflows() -> None:
    controller_env = {
        "PATH": "/bin",
        "LC_TIME": "C",
        "O2_ETCD_PASSWORD": "pw",
        "O2_ETCD": "x",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    env = hook_environment(controller_env, [("PATH", "/opt/bin"), ("RUN", "7")])
    assert env == {"PATH": "/opt/bin", "LC_TIME": "C", "RUN": "7"}
