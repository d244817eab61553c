"""Admin registrations of the Registry area."""
