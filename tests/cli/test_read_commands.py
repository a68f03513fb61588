"""get / describe / wait / delete end to end: objects written by etcdctl, read by `o2`."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from store.embedded import free_port
from tests.cli.conftest import O2, lines


def env_doc(name: str, *, state: str = "STANDBY", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "o2/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": name, "uid": f"uid-{name}", "generation": 1, **meta},
        "spec": {"workflow": "readout-dataflow", "state": "RUNNING"},
        "status": {
            "state": state,
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Deploying", "message": "slow"}
            ],
        },
    }


def put_env(o2: O2, name: str, **kwargs: Any) -> None:
    o2.etcdctl("put", o2.key("environments", name), json.dumps(env_doc(name, **kwargs)))


def test_get_lists_what_etcdctl_wrote_and_reports_garbage_by_key(o2: O2) -> None:
    put_env(o2, "alpha")
    put_env(o2, "beta", state="RUNNING")
    o2.etcdctl("put", o2.key("environments", "broken"), "{not json")
    result = o2("get", "env")
    assert result.exit_code == 0
    rows = lines(result.stdout)
    assert rows[0].split()[:3] == ["NAME", "WORKFLOW", "STATE"]
    assert [r.split()[0] for r in rows[1:]] == ["alpha", "beta"]
    assert all(line == line.rstrip() for line in result.stdout.splitlines())
    assert o2.key("environments", "broken") in result.stderr
    assert "broken" not in result.stdout


def test_get_accepts_plural_singular_short_and_kind_names(o2: O2) -> None:
    put_env(o2, "alpha")
    outputs = {o2("get", k, "-o", "name").stdout for k in ("environments", "environment", "env")}
    assert outputs == {"environment/alpha\n"}


def test_get_json_of_a_named_object_is_the_object_and_a_listing_is_a_list(o2: O2) -> None:
    put_env(o2, "alpha")
    put_env(o2, "beta")
    one = json.loads(o2("get", "env", "alpha", "-o", "json").stdout)
    assert one["kind"] == "Environment"
    assert one["metadata"]["name"] == "alpha"
    assert one["metadata"]["resourceVersion"] > 0
    listing = json.loads(o2("get", "env", "-o", "json").stdout)
    assert listing["kind"] == "List"
    assert [i["metadata"]["name"] for i in listing["items"]] == ["alpha", "beta"]


def test_get_filters_by_label_selector(o2: O2) -> None:
    put_env(o2, "alpha", labels={"team": "tpc"})
    put_env(o2, "beta", labels={"team": "its"})
    assert o2("get", "env", "-l", "team=its", "-o", "name").stdout == "environment/beta\n"


def test_get_all_lists_every_kind_with_kind_qualified_names(o2: O2) -> None:
    put_env(o2, "alpha")
    result = o2("get", "all")
    assert result.exit_code == 0
    assert "environment/alpha" in result.stdout


def test_get_missing_object_is_an_error_without_traceback(o2: O2) -> None:
    result = o2("get", "env", "nope")
    assert result.exit_code == 1
    assert "environment/nope not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_kind_lists_the_known_ones(o2: O2) -> None:
    result = o2("get", "pods")
    assert result.exit_code == 1
    assert "environments" in result.stderr


def test_unreachable_etcd_names_the_endpoint_and_how_to_fix_it(o2: O2) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = o2("--etcd", dead, "get", "env")
    assert result.exit_code == 1
    assert dead in result.stderr
    assert "O2_ETCD" in result.stderr
    assert "o2 up" in result.stderr
    assert "Traceback" not in result.stderr


def test_describe_shows_conditions_and_the_objects_events_last(o2: O2) -> None:
    put_env(o2, "alpha")
    event = {
        "apiVersion": "o2/v1alpha1",
        "kind": "Event",
        "metadata": {"name": "alpha-launched"},
        "spec": {
            "involvedObject": {"kind": "Environment", "name": "alpha"},
            "reason": "Launched",
            "message": "3 tasks launched",
        },
    }
    o2.etcdctl("put", o2.key("events", "alpha-launched"), json.dumps(event))
    result = o2("describe", "env", "alpha")
    assert result.exit_code == 0
    out = result.stdout
    assert out.index("Conditions:") < out.index("Events:")
    assert "Deploying" in out
    assert "3 tasks launched" in out


def test_wait_for_condition_times_out_with_what_it_last_saw(o2: O2) -> None:
    put_env(o2, "alpha")
    result = o2("wait", "env", "alpha", "--for=condition=Ready", "--timeout", "1s")
    assert result.exit_code == 1
    assert "timed out after 1s" in result.stderr
    assert "Ready=False (Deploying, slow)" in result.stderr


def test_wait_returns_when_a_watched_change_makes_the_condition_true(o2: O2) -> None:
    put_env(o2, "alpha")
    proc = subprocess.Popen(
        o2.argv("wait", "env", "alpha", "--for=jsonpath={.status.state}=RUNNING", "--timeout=20s"),
        env=o2.subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # no wait for the watch: it starts from the object's revision, so misses nothing
        put_env(o2, "alpha", state="RUNNING")
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "environment/alpha condition met" in out


def test_wait_already_true_exits_zero(o2: O2) -> None:
    put_env(o2, "alpha", state="RUNNING")
    result = o2("wait", "env", "alpha", "--for=jsonpath='{.status.state}'=RUNNING")
    assert result.exit_code == 0


def test_delete_removes_the_key(o2: O2) -> None:
    put_env(o2, "alpha")
    result = o2("delete", "env", "alpha")
    assert result.exit_code == 0
    assert result.stdout == "environment/alpha deleted\n"
    assert o2.etcdctl("get", "--prefix", o2.key("environments", "")) == ""


def test_delete_missing_object_fails_unless_ignored(o2: O2) -> None:
    assert o2("delete", "env", "nope").exit_code == 1
    assert o2("delete", "env", "nope", "--ignore-not-found").exit_code == 0


def test_delete_wait_honours_finalizers_until_the_key_is_gone(o2: O2) -> None:
    put_env(o2, "alpha", finalizers=["o2/tasks"])
    proc = subprocess.Popen(
        o2.argv("delete", "env", "alpha", "--wait", "--timeout", "20s"),
        env=o2.subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "marked for deletion" in first
        assert proc.poll() is None  # still waiting: the finalizer holds the object
        stored = json.loads(
            o2.etcdctl("get", o2.key("environments", "alpha"), "--print-value-only")
        )
        assert stored["metadata"]["deletionTimestamp"]
        o2.etcdctl("del", o2.key("environments", "alpha"))  # what the finalizer's owner ends with
        proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0


def test_delete_wait_times_out_while_a_finalizer_remains(o2: O2) -> None:
    put_env(o2, "alpha", finalizers=["o2/tasks"])
    result = o2("delete", "env", "alpha", "--wait", "--timeout", "1s")
    assert result.exit_code == 1
    assert "timed out" in result.stderr


def test_get_all_refuses_names_and_watch(o2: O2) -> None:
    for args in (("get", "all", "x"), ("get", "all", "-w")):
        result = o2(*args)
        assert result.exit_code == 1
        assert "single KIND" in result.stderr


def test_wait_on_several_names_needs_all_of_them(o2: O2) -> None:
    put_env(o2, "alpha", state="RUNNING")
    put_env(o2, "beta")
    result = o2(
        "wait", "env", "alpha", "beta", "--for=jsonpath={.status.state}=RUNNING", "--timeout=1.5s"
    )
    assert result.exit_code == 1
    assert result.stdout == "environment/alpha condition met\n"
    assert "environment/beta" in result.stderr
    assert "last seen: {.status.state}=STANDBY" in result.stderr


def test_wait_timeout_zero_checks_once(o2: O2) -> None:
    put_env(o2, "alpha")
    result = o2("wait", "env", "alpha", "--for=condition=Ready=False", "--timeout=0")
    assert result.exit_code == 0


def test_delete_goes_on_past_a_missing_name_and_fails_at_the_end(o2: O2) -> None:
    put_env(o2, "alpha")
    put_env(o2, "gamma")
    result = o2("delete", "env", "alpha", "beta", "gamma")
    assert result.exit_code == 1
    assert result.stdout == "environment/alpha deleted\nenvironment/gamma deleted\n"
    assert "environment/beta not found" in result.stderr


def test_get_jsonpath_prints_selected_fields(o2: O2) -> None:
    put_env(o2, "alpha", state="RUNNING")
    put_env(o2, "beta")
    one = o2("get", "env", "alpha", "-o", "jsonpath={.status.state}")
    assert one.exit_code == 0
    assert one.stdout == "RUNNING"
    many = o2("get", "env", "-o", 'jsonpath={.items[*].metadata.name}{"\\n"}')
    assert many.stdout == "alpha beta\n"
    bad = o2("get", "env", "-o", "jsonpath={range .items[*]}{.x}{end}")
    assert bad.exit_code == 1
    assert "jq" in bad.stderr
    assert o2("get", "env", "-o", "xml").exit_code == 1
