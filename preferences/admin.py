"""Admin registrations of the My notifications area."""
