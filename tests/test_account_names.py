"""Account names: 1 to 64 letters, digits, '-', '_' and '.', never '.' or '..' alone."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.auth.account_names import AccountNameError, check_account_name

ALLOWED = string.ascii_letters + string.digits + "-_."


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=64).filter(lambda n: n not in (".", "..")))
def test_every_name_of_allowed_characters_up_to_64_is_accepted(name: str) -> None:
    assert check_account_name(name) == name


@given(st.text(min_size=1, max_size=80).filter(lambda n: any(c not in ALLOWED for c in n)))
def test_a_name_with_any_other_character_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(AccountNameError, match=r"^account: "):
        check_account_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", "a" * 65], ids=["empty", "dot", "dots", "65"])
def test_empty_dots_alone_and_long_names_are_refused(name: str) -> None:
    with pytest.raises(AccountNameError, match="an account name is 1 to 64"):
        check_account_name(name, field="--account")
