"""The task controller: o2's Mesos framework (placement, launch, status, control transitions)."""
