"""The environment controller harness on real etcd (tests.environments), as fixture `h`."""

from tests.environments.test_controller import harness as h  # noqa: F401
