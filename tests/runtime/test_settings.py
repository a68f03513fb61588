"""Controller settings: built once from `o2 controller` flags and `$O2_*`, shown in --help."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.__main__ import manager_config, parse_args
from controller.settings import FLAGS, Settings
from mesosapi.auth import Credentials, MesosAccess


def test_flag_wins_over_environment_even_when_zero_and_environment_over_default() -> None:
    env = {"O2_NODE_POLL_PERIOD": "2", "O2_IDLE_TTL": "30", "O2_DEPLOY_TIMEOUT": ""}
    s = Settings.load({"node_poll_period": "0", "idle_ttl": None, "deploy_timeout": ""}, env)
    assert s.nodes.poll_period == 0
    assert s.environments.idle_ttl == 30
    assert s.environments.deploy_timeout == 90  # empty flag and empty variable: the default


def test_mesos_masters_reach_the_task_and_node_controllers() -> None:
    s = Settings.load({}, {"O2_MESOS": " m1:5050 , m2:5050"})
    assert s.tasks.masters == ("m1:5050", "m2:5050")
    assert s.nodes.master == "m1:5050"
    idle = Settings.load({}, {})
    assert idle.tasks.masters == () and idle.nodes.master == ""


def test_every_flag_of_the_table_is_parsed_into_the_settings(tmp_path: Path) -> None:
    argv = ["--mesos", "m:1", "--executor-command", "run-exec", "--task-reconcile-period", "5"]
    argv += ["--framework-name", "o2-b", "--node-poll-period", "1", "--data-dir", str(tmp_path)]
    argv += ["--git-timeout", "7", "--deploy-timeout", "8", "--transition-timeout", "9"]
    argv += ["--idle-ttl", "10", "--pilot-class", "p", "--pilot-cooldown", "11"]
    argv += ["--run-log-size", "7"]
    argv += ["--pilot-max-reclaiming", "3", "--pilot-pending-age", "12", "--pilot-reclaim", "off"]
    argv += ["--pilot-backoff-base", "13", "--pilot-backoff-max", "14"]
    argv += ["--pilot-backoff-reset", "15"]
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    argv += ["--mesos-principal", "o2", "--mesos-secret-file", str(secret)]
    argv += ["--mesos-ca-file", "/ca.pem", "--dcs-endpoint", "dcs:50051"]
    argv += ["--fmq-plugin", "OCC", "--fmq-plugin-search-path", "/opt/occ/lib/"]
    s = parse_args(argv, env={}).settings
    assert (s.tasks.masters, s.tasks.executor_command) == (("m:1",), "run-exec")
    assert (s.tasks.reconcile_period, s.tasks.framework_name) == (5, "o2-b")
    assert (s.nodes.master, s.nodes.poll_period) == ("m:1", 1)
    assert s.tasks.access == s.nodes.access == MesosAccess(Credentials("o2", "s3cret"), "/ca.pem")
    assert (s.gitsource.data_dir, s.gitsource.git_timeout) == (tmp_path, 7)
    e = s.environments
    assert (e.deploy_timeout, e.transition_timeout, e.idle_ttl) == (8, 9, 10)
    assert e.dcs_endpoint == "dcs:50051"
    assert e.run_log_size == 7
    assert (e.fmq_plugin, e.fmq_plugin_search_path) == ("OCC", "/opt/occ/lib/")
    p = s.pilots
    assert (p.pilot_class, p.cooldown, p.max_reclaiming, p.pending_age) == ("p", 11, 3, 12)
    assert (p.reclaim, p.backoff_base, p.backoff_max, p.backoff_reset) == (False, 13, 14, 15)
    given = {a for a in argv if a.startswith("--")}
    assert given == {flag.option for flags in FLAGS.values() for flag in flags}


def test_unreadable_value_is_a_usage_error_naming_the_flag_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args([], env={"O2_TASK_RECONCILE_PERIOD": "soon"})
    assert exit_.value.code == 2
    assert "--task-reconcile-period / $O2_TASK_RECONCILE_PERIOD: cannot read 'soon'" in (
        capsys.readouterr().err
    )


def test_help_documents_each_flag_with_its_variable_and_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per flag: no wrap inside a default
    with pytest.raises(SystemExit):
        parse_args(["--help"], env={})
    text = " ".join(capsys.readouterr().out.split())
    for flags in FLAGS.values():
        for flag in flags:
            assert flag.option in text
            assert f"${flag.env}, else {flag.default})" in text


def test_manager_config_carries_the_settings_to_the_reconcilers() -> None:
    args = parse_args(["--id", "m-1", "--idle-ttl", "5"], env={})
    config = manager_config(args)
    assert config.identity == "m-1"
    assert config.settings.environments.idle_ttl == 5
