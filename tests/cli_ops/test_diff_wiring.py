"""`o2 diff gitsource NAME` reaches cli.gitops; other kinds with a name are usage errors."""

from __future__ import annotations

from tests.cli.conftest import O2


def test_diff_gitsource_goes_to_the_gitops_request(o2_sync: O2) -> None:
    result = o2_sync("diff", "gitsource", "nope", "--timeout", "2s")
    assert result.exit_code == 2
    assert "gitsource/nope not found" in result.stderr


def test_diff_with_another_kind_or_without_files_is_a_usage_error(o2_sync: O2) -> None:
    other = o2_sync("diff", "env", "physics-1")
    assert other.exit_code == 2
    assert "only `o2 diff gitsource NAME`" in other.stderr
    bare = o2_sync("diff")
    assert bare.exit_code == 2
    assert "-f FILE" in bare.stderr
