"""Each organic operation's rate-limit category, as Pinterest's OpenAPI description says.

Pinterest counts calls per category (``x-ratelimit-category`` of each operation): calls in one
category share its quota. :data:`CATEGORIES` lists the operations on organic content (user
account, boards, sections, Pins, media, their analytics) with their category; a test compares it
with the description. A path outside the table (``MakeApiCall`` may call any) is counted as
``org_read`` when it only reads and ``org_write`` otherwise: at worst that spends quota which
was not needed, and never sends more than a category allows.
"""

from __future__ import annotations

import re
from typing import Final

ORG_READ: Final = "org_read"
ORG_WRITE: Final = "org_write"
ORG_ANALYTICS: Final = "org_analytics"

CATEGORIES: Final[tuple[tuple[str, str, str], ...]] = (
    ("GET", "/user_account", ORG_READ),
    ("GET", "/user_account/analytics", ORG_ANALYTICS),
    ("GET", "/user_account/analytics/top_pins", ORG_ANALYTICS),
    ("GET", "/user_account/analytics/top_video_pins", ORG_ANALYTICS),
    ("GET", "/user_account/businesses", ORG_READ),
    ("GET", "/user_account/following", ORG_READ),
    ("GET", "/user_account/following/boards", ORG_READ),
    ("POST", "/user_account/following/{username}", ORG_WRITE),
    ("GET", "/user_account/websites", ORG_READ),
    ("POST", "/user_account/websites", ORG_WRITE),
    ("DELETE", "/user_account/websites", ORG_WRITE),
    ("GET", "/user_account/websites/verification", ORG_READ),
    ("GET", "/users/{username}/interests/follow", ORG_READ),
    ("GET", "/boards", ORG_READ),
    ("POST", "/boards", ORG_WRITE),
    ("GET", "/boards/{board_id}", ORG_READ),
    ("PATCH", "/boards/{board_id}", ORG_WRITE),
    ("DELETE", "/boards/{board_id}", ORG_WRITE),
    ("GET", "/boards/{board_id}/pins", ORG_READ),
    ("GET", "/boards/{board_id}/sections", ORG_READ),
    ("POST", "/boards/{board_id}/sections", ORG_WRITE),
    ("PATCH", "/boards/{board_id}/sections/{section_id}", ORG_WRITE),
    ("DELETE", "/boards/{board_id}/sections/{section_id}", ORG_WRITE),
    ("GET", "/boards/{board_id}/sections/{section_id}/pins", ORG_READ),
    ("GET", "/pins", ORG_READ),
    ("POST", "/pins", ORG_WRITE),
    ("GET", "/pins/analytics", ORG_ANALYTICS),
    ("GET", "/pins/{pin_id}", ORG_READ),
    ("PATCH", "/pins/{pin_id}", ORG_WRITE),
    ("DELETE", "/pins/{pin_id}", ORG_WRITE),
    ("GET", "/pins/{pin_id}/analytics", ORG_ANALYTICS),
    ("POST", "/pins/{pin_id}/save", ORG_WRITE),
    ("GET", "/search/boards", ORG_READ),
    ("GET", "/search/pins", ORG_READ),
    ("GET", "/search/partner/pins", ORG_READ),
    ("GET", "/media", ORG_READ),
    ("POST", "/media", ORG_WRITE),
    ("GET", "/media/{media_id}", ORG_READ),
)
"""``(method, path template below /v5, category)`` of every organic operation."""

_PARAMETER = re.compile(r"\{[^/}]+\}")


def _compile() -> tuple[dict[tuple[str, str], str], list[tuple[str, re.Pattern[str], str]]]:
    exact: dict[tuple[str, str], str] = {}
    templated: list[tuple[str, re.Pattern[str], str]] = []
    for method, path, category in CATEGORIES:
        if "{" in path:
            pattern = "".join(
                "[^/]+" if _PARAMETER.fullmatch(part) else re.escape(part)
                for part in re.split(r"(\{[^/}]+\})", path)
            )
            templated.append((method, re.compile(pattern), category))
        else:
            exact[(method, path)] = category  # a literal path wins over a template it matches
    return exact, templated


_EXACT, _TEMPLATED = _compile()


def category_of(method: str, path: str) -> str:
    """The category of ``method path`` (``path`` below the API base, without a query)."""
    method = method.upper()
    found = _EXACT.get((method, path))
    if found is not None:
        return found
    for wanted, pattern, category in _TEMPLATED:
        if wanted == method and pattern.fullmatch(path):
            return category
    return ORG_READ if method in ("GET", "HEAD") else ORG_WRITE
