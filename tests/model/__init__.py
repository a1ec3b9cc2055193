"""model tests (see the module docstrings)."""
