"""The environment controller's pure core: templates, expansion, state machine and planning."""
