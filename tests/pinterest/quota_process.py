"""One process of the shared-quota tests: Pinterest calls under a quota kept on a Redis server.

    python -m tests.pinterest.quota_process REDIS_URL API TOKEN CALLS WORKERS OVERRIDE

Makes its own :class:`~runtime.quota.Quotas` (the packaged rules with the ``quota`` override
OVERRIDE, as the app configuration would give them) on the Redis server, prints ``ready``,
waits for a line on its standard input (so that several processes start together), then makes
CALLS ``GET /user_account`` calls (``org_read``), WORKERS at a time, and prints one JSON line:
each call's outcome (``ok``, ``deferred`` for a quota wait past ``maxWait``, ``429`` for a
refusal raised to the caller), every status the API answered, and the waits reported.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from components.pinterest.client import PinterestClient
from runtime.auth.app_config import env_var
from runtime.connector.errors import RateLimitedError
from runtime.credentials import StaticCredentials
from runtime.quota import Quotas, QuotaWaitError, quota_state
from runtime.quota_rules import packaged_rules

SERVICE = "acme:pinterest"


class Telemetry:
    """Keeps the statuses the API answered and the quota waits."""

    def __init__(self) -> None:
        self.statuses: list[int | str] = []
        self.waits: list[float] = []

    def api_call(self, service: str, status: int | str) -> None:
        self.statuses.append(status)

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        self.waits.append(seconds)

    def token_refresh(self, service: str, *, ok: bool) -> None:
        return None

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        return None

    def loop_stall(self, flow_id: str, component_id: str) -> None:
        return None


async def main(
    redis_url: str, api: str, token: str, calls: int, workers: int, override: str
) -> None:
    rules = packaged_rules({env_var(SERVICE, "quota"): override})
    quotas = Quotas(rules, state=quota_state(redis_url))
    telemetry = Telemetry()
    room = asyncio.Semaphore(workers)
    async with aiohttp.ClientSession() as session:
        credentials = StaticCredentials(SERVICE, token, account="cook")
        client = PinterestClient.connect(
            session, credentials, api_base=api, quotas=quotas, telemetry=telemetry
        )

        async def one() -> str:
            async with room:
                try:
                    await client.get_user_account()
                except QuotaWaitError:
                    return "deferred"
                except RateLimitedError:
                    return "429"
                return "ok"

        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        outcomes = await asyncio.gather(*(one() for _ in range(calls)))
    await quotas.aclose()  # what this process said reaches the server before it ends
    line = {"outcomes": outcomes, "statuses": telemetry.statuses, "waits": len(telemetry.waits)}
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    url, api, token, calls, workers, override = sys.argv[1:7]
    asyncio.run(main(url, api, token, int(calls), int(workers), override))
