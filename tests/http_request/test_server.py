"""HttpRequest in ``flowmixer serve``: the key set through the admin API is used by flows
started afterwards, and no ``/api`` answer shows it."""

from __future__ import annotations

import json

from tests import kit as engine_kit
from tests.http_request import kit
from tests.http_request.loopback import API_KEY, stack
from tests.server_kit import serving

AUTH = {"service": "acme:weather", "header": "X-Api-Key", "secret": "apiKey"}


async def test_a_key_set_through_the_api_is_used_and_no_api_answer_shows_it(tmp_path):
    answers: list[str] = []
    async with (
        stack(tmp_path / "api", weather_key=None) as api,
        serving(tmp_path / "server.db", kit.registry()) as served,
    ):

        async def call(method: str, path: str, body: object = None) -> tuple[int, object]:
            status, answer = await served.api(method, path, body)
            answers.append(json.dumps(answer))
            return status, answer

        config = {"apiKey": API_KEY, "apiBase": f"{api.base}/v1"}
        assert (await call("PUT", "/api/config/acme:weather", config))[0] == 200
        flow = kit.flow({"url": "/missing", "auth": AUTH}, flow_id="weather")
        secret = await served.deploy(flow)
        status, _ = await served.hook("/hooks/weather/hook", "{}", secret)
        assert status == 202
        await engine_kit.eventually(lambda: bool(api.api.seen), timeout=30)
        await served.ctx.engine.wait_idle("weather")
        for path in ("/api/config", "/api/config/acme:weather", "/api/flows", "/api/flows/weather"):
            assert (await call("GET", path))[0] == 200
        await call("GET", "/api/dead-letters")
    (seen,) = api.api.seen
    assert seen.headers["X-Api-Key"] == API_KEY  # the key reached the service, and only it
    assert "404" in answers[-1]
    assert all(API_KEY not in answer for answer in answers)
