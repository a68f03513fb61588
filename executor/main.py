"""The o2 executor program (being written by the executor-main engineer)."""
