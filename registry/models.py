"""Models of the Registry area."""
