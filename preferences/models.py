"""Models of the My notifications area."""
