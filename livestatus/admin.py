"""Admin registrations of the Status area."""
