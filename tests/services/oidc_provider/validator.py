"""Claims shaped like Keycloak's: preferred_username, name, email and a flat ``groups`` list."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class KeycloakStyleValidator(OAuth2Validator):
    # Every claim in the ID token and userinfo, whatever the scopes (Keycloak's group mapper does so).
    oidc_claim_scope = None

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "preferred_username": user.username,
            "name": user.get_full_name(),
            "email": user.email,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
