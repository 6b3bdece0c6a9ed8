"""The sign-in tests' fixtures: Berth on the session's Keycloak (see tests/sso.py)."""

from tests.sso import sso, sso_overrides

__all__ = ["sso", "sso_overrides"]
