"""Fuzzing the GUI action endpoint on a real etcd: 4xx with a message or a real action, never a
500, and nothing written to etcd when the answer is an error."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crds.kinds.environment import Environment
from gui.actions import ACTIONS
from store.etcd import EtcdStore
from tests.fuzz.harness import fuzz
from tests.gui.conftest import Gui, gui, tokens
from tests.gui.samples import environment

pytestmark = pytest.mark.fuzz
__all__ = ["gui", "tokens"]  # the GUI suite's fixtures, used here

GOOD = "Bearer alice-token-123"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
bodies = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
padding = st.sampled_from([0, 0, 0, 2**20, 3 * 2**20])
"""Bytes of filler added to the body (drawn as a size: a megabyte in a failure report is noise)."""
content_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
        "application/x-www-form-urlencoded",
    ]
)
names = st.sampled_from(["physics-1", "missing", "PHYSICS-1", "..", "a" * 300]) | st.text(
    min_size=1, max_size=40
)
verbs = st.sampled_from([*ACTIONS, "delete", "START", ""]) | st.text(max_size=12)
auths = st.sampled_from([GOOD, "Bearer wrong", "", "Basic YWxpY2U6eA==", "Bearer " + "a" * 5000])


@given(names, verbs, auths, content_types, bodies, padding)
@fuzz(150, fixtures=True)
async def test_action_requests_get_an_answer_and_errors_write_nothing(  # noqa: PLR0917
    gui: Gui,
    etcd_store: EtcdStore,
    name: str,
    verb: str,
    auth: str,
    ctype: str,
    body: bytes,
    pad: int,
) -> None:
    if not (await etcd_store.list(Environment)).items:
        await etcd_store.create(environment("physics-1"))
    before = (await etcd_store.list(Environment)).revision
    headers = {"Content-Type": ctype} if ctype else {}
    if auth:
        headers["Authorization"] = auth
    path = f"/api/environments/{quote(name, safe='')}/{quote(verb, safe='')}"
    response = await gui.post(path, data=io.BytesIO(body + b" " * pad), headers=headers)
    text = await response.text()
    after = (await etcd_store.list(Environment)).revision
    assert response.status < 500, f"{response.status}: {text[:200]}"
    if response.status >= 400:
        assert text.strip(), "an error answer must say why"
        assert after == before, "an error answer must not have written to etcd"
    else:
        assert response.status == 200 and verb in ACTIONS and auth == GOOD
