"""Account names: 1 to 64 letters, digits, ``-``, ``_`` and ``.``, and not ``.`` or ``..``.

A name is shown in pages, logs and commands, and may one day name a file: nothing in it can
climb out of a folder, start markup or need quoting in a shell.
"""

from __future__ import annotations

import re
from typing import Final

from runtime.errors import ConfigurationError

MAX_ACCOUNT_NAME: Final = 64
_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AccountNameError(ConfigurationError):
    """An account name that is not accepted; the message names ``field`` and says why."""


def check_account_name(name: str, *, field: str = "account") -> str:
    """``name`` when it is an accepted account name, else :class:`AccountNameError`."""
    if _NAME.fullmatch(name) and name not in (".", ".."):
        return name
    if not name:
        why = "it is empty"
    elif len(name) > MAX_ACCOUNT_NAME:
        why = f"it has {len(name)} characters, more than {MAX_ACCOUNT_NAME}"
    elif name in (".", ".."):
        why = f"{name!r} alone is not a name"
    else:
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        why = f"{name[:64]!r} has {', '.join(repr(c) for c in bad)}"
    raise AccountNameError(
        f"{field}: {why}; an account name is 1 to {MAX_ACCOUNT_NAME} letters, digits,"
        " '-', '_' or '.' (not '.' or '..' alone)"
    )
