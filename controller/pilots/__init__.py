"""The pilot controller: pilots on asynchronous nodes, reclaim for environments, release."""
