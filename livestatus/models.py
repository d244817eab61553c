"""Models of the Status area."""
