"""Pinterest's OAuth2 particulars that its service manifest cannot say.

The manifest already says the rest: HTTP Basic client authentication at the token endpoint,
comma-separated scopes, ``continuous_refresh=true`` and the account name from
``GET /v5/user_account`` (``username``). Pinterest answers a refused code or refresh token with
HTTP 400 (``code`` 1) rather than OAuth's ``invalid_grant``; continuous refresh is asked for
on every token request, even when a manifest leaves it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.auth.oauth2 import OAuth2Hooks

if TYPE_CHECKING:
    from runtime.manifest import OAuth2Settings


class PinterestHooks(OAuth2Hooks):
    """Hooks for ``acme:pinterest``."""

    def token_params(self, grant_type: str, settings: OAuth2Settings) -> dict[str, str]:
        params = dict(settings.extra_token_params)
        params.setdefault("continuous_refresh", "true")
        return params

    def refused_grant(self, status: int, body: Any) -> bool:
        return status == 400
