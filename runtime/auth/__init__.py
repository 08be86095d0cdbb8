"""The auth provider: app configuration, sealed secrets, the token vault, OAuth2 and refresh.

One job per module:

* :mod:`runtime.auth.secretbox` seals secrets at rest (Fernet; ``FLOWMIXER_SECRET_KEY`` or the
  key file ``$FLOWMIXER_HOME/secret.key``, mode 0600).
* :mod:`runtime.auth.app_config` keeps each service's app configuration (client id, client
  secret...), with ``FLOWMIXER_<SERVICE>_<KEY>`` environment overrides.
* :mod:`runtime.auth.vault` keeps each account's tokens, sealed.
* :mod:`runtime.auth.account_names` checks account names.
* one process at a time refreshes an account: the store's refresh lock
  (:class:`~runtime.stores.contracts.RefreshLocks`: a lock file, or an advisory lock).
* :mod:`runtime.auth.oauth2` drives a service's authorization-code flow from its manifest.
* :mod:`runtime.auth.states` issues and checks the single-use ``state`` of logins.
* :mod:`runtime.auth.scopes` chooses the scopes a login asks for.
* :mod:`runtime.auth.loopback` runs a login from a terminal (a listener on 127.0.0.1).
* :mod:`runtime.auth.credentials` gives components refreshing credentials from the vault.
"""

from __future__ import annotations

from runtime.auth.account_names import AccountNameError, check_account_name
from runtime.auth.app_config import AppConfigStore, env_var
from runtime.auth.credentials import AuthProvider, VaultCredentials
from runtime.auth.loopback import LoginError, LoginResult, loopback_login
from runtime.auth.oauth2 import InvalidGrantError, OAuth2Client, OAuth2Error, OAuth2Hooks
from runtime.auth.scopes import normalize_scopes, scopes_to_request
from runtime.auth.secretbox import SecretBox, generate_key
from runtime.auth.states import LoginStateError, LoginStates, PendingLogin
from runtime.auth.vault import (
    AccountExistsError,
    AccountRecord,
    StoredTokens,
    TokenSet,
    TokenVault,
)

__all__ = [
    "AccountExistsError",
    "AccountNameError",
    "AccountRecord",
    "AppConfigStore",
    "AuthProvider",
    "InvalidGrantError",
    "LoginError",
    "LoginResult",
    "LoginStateError",
    "LoginStates",
    "OAuth2Client",
    "OAuth2Error",
    "OAuth2Hooks",
    "PendingLogin",
    "SecretBox",
    "StoredTokens",
    "TokenSet",
    "TokenVault",
    "VaultCredentials",
    "check_account_name",
    "env_var",
    "generate_key",
    "loopback_login",
    "normalize_scopes",
    "scopes_to_request",
]
