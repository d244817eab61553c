"""A real OpenID Connect provider for the sign-in tests: a small django-oauth-toolkit process."""
