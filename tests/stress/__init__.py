"""stress tests (see the module docstrings)."""
