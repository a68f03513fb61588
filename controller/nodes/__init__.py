"""The Node controller: one Node resource per Mesos agent, from the master's agent list."""
