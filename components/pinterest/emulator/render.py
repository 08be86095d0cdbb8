"""Records as the API answers them: ``Account``, ``Board``, ``BoardSection``, ``Pin``, ``Media``."""

from __future__ import annotations

from typing import Any

from components.pinterest.emulator.clock import iso
from components.pinterest.emulator.state import Board, Media, Pin, PinMedia, Section, State, User

_SIZES = (("150x150", 150, 150), ("400x300", 400, 300), ("600x", 600, None), ("1200x", 1200, None))


def account(state: State, user: User) -> dict[str, Any]:
    boards = state.boards_of(user.id)
    return {
        "account_type": user.account_type,
        "id": user.id,
        "username": user.username,
        "profile_image": user.profile_image,
        "website_url": user.website_url,
        "business_name": user.business_name,
        "about": user.about,
        "board_count": len(boards),
        "pin_count": sum(1 for p in state.pins.values() if p.owner_id == user.id),
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "monthly_views": user.monthly_views,
    }


def board(state: State, record: Board, root: str) -> dict[str, Any]:
    pins = state.pins_on_board(record.id)
    thumbnails = [absolute(u, root) for u in (_cover(p.media) for p in pins[:5]) if u]
    return {
        "id": record.id,
        "created_at": iso(record.created_at),
        "board_pins_modified_at": iso(record.pins_modified_at),
        "name": record.name,
        "description": record.description,
        "collaborator_count": 0,
        "pin_count": len(pins),
        "follower_count": record.follower_count,
        "media": {
            "image_cover_url": thumbnails[0] if thumbnails else None,
            "pin_thumbnail_urls": thumbnails,
        },
        "owner": {"username": state.users[record.owner_id].username},
        "privacy": record.privacy,
        "is_ads_only": record.is_ads_only,
    }


def section(record: Section) -> dict[str, Any]:
    return {"id": record.id, "name": record.name}


def pin(
    state: State, record: Pin, *, viewer_id: str, root: str, metrics: bool = False
) -> dict[str, Any]:
    return {
        "id": record.id,
        "created_at": iso(record.created_at),
        "link": record.link,
        "title": record.title,
        "description": record.description,
        "dominant_color": record.dominant_color,
        "alt_text": record.alt_text,
        "creative_type": record.creative_type,
        "board_id": record.board_id,
        "board_section_id": record.section_id,
        "board_owner": {"username": state.users[record.owner_id].username},
        "is_owner": record.owner_id == viewer_id,
        "media": pin_media(record.media, root),
        "parent_pin_id": record.parent_pin_id,
        "is_standard": record.is_standard,
        "has_been_promoted": False,
        "pin_metrics": _zero_metrics() if metrics else None,
    }


def pin_media(media: PinMedia, root: str) -> dict[str, Any]:
    if media.kind == "multiple_images":
        return {
            "media_type": "multiple_images",
            "items": [
                {
                    "item_type": "image",
                    "title": slide.title,
                    "description": slide.description,
                    "link": slide.link,
                    "images": images(absolute(slide.image_url, root)),
                }
                for slide in media.slides
            ],
        }
    cover = absolute(media.image_url, root) if media.image_url else ""
    if media.kind == "video":
        return {
            "media_type": "video",
            "cover_image_url": cover,
            "video_url": None,
            "duration": None,
            "height": None,
            "width": None,
            "images": images(cover),
        }
    return {"media_type": "image", "images": images(cover)}


def media(record: Media, status: str) -> dict[str, Any]:
    return {"media_id": record.id, "media_type": record.media_type, "status": status}


def images(url: str) -> dict[str, Any]:
    """The ``ImageSize`` object: every size points at the one stored image."""
    return {name: {"url": url, "width": w, "height": h} for name, w, h in _SIZES}


def absolute(url: str, root: str) -> str:
    """Emulator-served image paths (``/images/…``) made absolute; other URLs unchanged."""
    return root + url if url.startswith("/") else url


def _cover(media: PinMedia) -> str | None:
    if media.kind == "multiple_images":
        return media.slides[0].image_url if media.slides else None
    return media.image_url


def _zero_metrics() -> dict[str, Any]:
    return {
        "90d": {"pin_click": 0, "impression": 0, "clickthrough": 0},
        "lifetime_metrics": {
            "pin_click": 0,
            "impression": 0,
            "clickthrough": 0,
            "reaction": 0,
            "comment": 0,
        },
    }
