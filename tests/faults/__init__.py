"""faults tests (see the module docstrings)."""
