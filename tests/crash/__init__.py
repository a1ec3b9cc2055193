"""crash tests (see the module docstrings)."""
