"""`o2 diff gitsource NAME` reaches cli.gitops; other kinds with a name are usage errors."""

from __future__ import annotations

from tests.cli.conftest import O2
from tests.cli_ops.conftest import run_o2


async def test_diff_gitsource_goes_to_the_gitops_request(o2: O2) -> None:
    result = await run_o2(o2, "diff", "gitsource", "nope", "--timeout", "2s")
    assert result.exit_code == 2
    assert "gitsource/nope not found" in result.stderr


async def test_diff_with_another_kind_or_without_files_is_a_usage_error(o2: O2) -> None:
    other = await run_o2(o2, "diff", "env", "physics-1")
    assert other.exit_code == 2
    assert "only `o2 diff gitsource NAME`" in other.stderr
    bare = await run_o2(o2, "diff")
    assert bare.exit_code == 2
    assert "-f FILE" in bare.stderr
