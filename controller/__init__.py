"""o2 controllers and their runtime (controller.runtime); they talk to each other only via etcd."""
