"""Dead letters on their way from Redis to the store.

Burying a message moves it, in the settling script, into the component's ``burying`` hash (see
:mod:`runtime.brokers.redis_scripts`) as a letter in JSON; the letter is then written in the
store and removed from the hash. A crash in between leaves it in the hash, and the channel's
next restore finishes it (:func:`finish_burials`): a letter written twice is the same letter.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from runtime.stores import codec
from runtime.stores.base import DeadLetter

if TYPE_CHECKING:
    from runtime.brokers.redis_link import Link


def encode(letter: DeadLetter) -> str:
    return json.dumps(
        {
            "id": letter.id,
            "envelope": codec.encode_envelope(letter.envelope),
            "error": letter.error,
            "error_type": letter.error_type,
            "attempts": letter.attempts,
            "failed_at": letter.failed_at,
        }
    )


def decode(text: str) -> DeadLetter:
    data = json.loads(text)
    envelope = codec.decode_envelope(data["envelope"])
    return DeadLetter(
        data["id"], envelope, data["error"], data["error_type"], data["attempts"], data["failed_at"]
    )


async def finish_burials(link: Link, store: Any, burying: str) -> None:
    """Write in ``store`` the letters left in the ``burying`` hash, forgetting each after."""
    found = await link.run(lambda: link.client.hgetall(burying))
    for letter_id, text in found.items():
        await store.add_dead_letter(decode(text))
        await link.run(partial(link.client.hdel, burying, letter_id))
