"""HttpRequest in a running flow against a loopback API: each auth kind, what the server
receives, how answers are read and routed, retries, the quota, and no secret anywhere."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

from structlog.testing import capture_logs

from tests import kit
from tests.http_request.loopback import API_KEY, CLIENT_SECRET, stack

CRM = {"service": "acme:crm", "scopes": ["contacts:read"]}
WEATHER = {"service": "acme:weather", "header": "X-Api-Key", "secret": "apiKey"}


async def test_an_oauth2_account_refreshes_once_after_a_401_and_the_call_succeeds(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/contacts/{{id}}", "auth": CRM}, {"id": "ann smith/2"})
        calls = s.api.seen
    assert [o.payload for o in outputs] == [
        {
            "status": 200,
            "headers": outputs[0].payload["headers"],
            "body": {"id": "ann smith/2", "name": "Ann"},
        }
    ]
    assert [c.headers["Authorization"] for c in calls] == [
        "Bearer stale-token",
        "Bearer fresh-token",
    ]
    assert s.api.token_requests[0]["refresh_token"] == "refresh-1"
    assert len(s.api.token_requests) == 1


async def test_a_header_secret_from_the_app_configuration_is_sent_in_its_header(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/contacts/{{id}}", "auth": WEATHER}, {"id": "7"})
        (call,) = s.api.seen
    assert outputs[0].payload["body"] == {"id": "7", "name": "Ann"}
    assert call.headers["X-Api-Key"] == API_KEY
    assert "Authorization" not in call.headers


async def test_a_scheme_goes_before_the_secret(tmp_path):
    auth = {**WEATHER, "header": "Authorization", "scheme": "Token"}
    async with stack(tmp_path) as s:
        await s.run({"url": "/echo", "auth": auth}, {})
        (call,) = s.api.seen
    assert call.headers["Authorization"] == f"Token {API_KEY}"


async def test_the_url_query_headers_and_json_body_arrive_as_the_templates_say(tmp_path):
    properties = {
        "method": "POST",
        "url": "/echo",
        "auth": WEATHER,
        "query": {"tag": "{{tag}}", "n": 3, "many": ["a", "{{tag}}"], "gone": "{{nothing}}"},
        "headers": {"X-Trace": "t-{{id}}", "X-Api-Key": "from-the-flow"},
        "body": {"name": "{{name}}", "count": "{{count}}", "note": "hi {{name}}"},
    }
    event = {"tag": "red", "id": 9, "name": "Ann", "count": 2}
    async with stack(tmp_path) as s:
        outputs = await s.run(properties, event)
        (call,) = s.api.seen
    assert outputs[0].payload["body"] == {"method": "POST", "ok": True}
    assert call.query == [("tag", "red"), ("n", "3"), ("many", "a"), ("many", "red")]
    assert call.headers["X-Trace"] == "t-9"
    assert call.headers["X-Api-Key"] == API_KEY  # the credential's header is the call's own
    assert json.loads(call.body) == {"name": "Ann", "count": 2, "note": "hi Ann"}


async def test_a_form_body_is_form_encoded(tmp_path):
    properties = {
        "method": "PUT",
        "url": "/echo",
        "auth": WEATHER,
        "form": {"a": "{{x}}", "b": True, "c": 1.5, "d": "{{none}}"},
    }
    async with stack(tmp_path) as s:
        await s.run(properties, {"x": "1 & 2"})
        (call,) = s.api.seen
    assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qsl(call.body.decode()) == [("a", "1 & 2"), ("b", "true"), ("c", "1.5")]


async def test_a_text_response_is_sent_as_text(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/text", "auth": WEATHER, "responseType": "text"}, {})
    assert outputs[0].payload["body"] == "plain words"


async def test_a_json_response_that_is_not_json_is_dead_lettered_naming_the_status(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/not-json", "auth": WEATHER}, {})
        letters = await s.dead_letters()
        calls = s.api.calls("/v1/not-json")
    assert outputs == []
    assert len(calls) == 1  # not retried: asking again gets the same answer
    assert "HTTP 200 with a body that is not JSON" in letters[0].error


async def test_a_4xx_answer_goes_to_the_error_port_when_it_is_wired(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/missing", "auth": WEATHER}, {"q": 1}, wire_error=True)
        letters = await s.dead_letters()
    (output,) = outputs
    assert output.component_id == "failed"
    assert output.payload["status"] == 404
    assert output.payload["input"] == {"q": 1}
    # the server echoed the key: it is scrubbed before the answer goes anywhere
    assert output.payload["body"] == {"message": "no such thing; key was ***"}
    assert letters == []


async def test_a_4xx_answer_goes_to_the_dead_letters_when_error_is_not_wired(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/missing", "auth": WEATHER}, {"q": 1})
        letters = await s.dead_letters()
    assert outputs == []
    (letter,) = letters
    assert "404" in letter.error
    assert letter.envelope.payload == {"q": 1}


async def test_a_status_listed_in_success_statuses_goes_to_out(tmp_path):
    properties = {"url": "/missing", "auth": WEATHER, "successStatuses": [404]}
    async with stack(tmp_path) as s:
        outputs = await s.run(properties, {})
        letters = await s.dead_letters()
    assert [(o.component_id, o.payload["status"]) for o in outputs] == [("call", 404)]
    assert letters == []


async def test_a_5xx_is_retried_with_backoff_until_it_succeeds(tmp_path):
    async with stack(tmp_path) as s:
        s.api.failures["/v1/flaky"] = 2
        outputs = await s.run({"url": "/flaky", "auth": WEATHER}, {})
        calls = s.api.calls("/v1/flaky")
    assert len(calls) == 3
    assert [o.payload["body"] for o in outputs] == [{"done": True}]


async def test_a_429_waits_as_retry_after_says_and_holds_the_quota_gate_for_every_call(tmp_path):
    async with stack(tmp_path) as s:
        s.api.failures["/v1/limited"] = 1
        flow = {"url": "/limited", "auth": WEATHER}
        plan_events = asyncio.create_task(s.run(flow, {"n": 1}))
        gate = s.quotas.gate("acme:weather", "*", app="", account=None)
        loop = asyncio.get_running_loop()
        # the first call's 429 closes the gate (read inside: it has no event of its own)
        await kit.eventually(lambda: gate._window.held_until > loop.time(), timeout=30)
        await s.engine.push("calls", "hook", {"n": 2})
        await plan_events
        await s.engine.wait_idle("calls")
        calls = s.api.calls("/v1/limited")
    first, *later = calls
    assert len(later) == 2  # the refused call again, and the second message's call
    assert all(call.at - first.at >= 0.9 for call in later)  # Retry-After: 1


async def test_an_answer_larger_than_the_cap_is_dead_lettered_without_a_retry(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/big", "auth": WEATHER, "maxResponseBytes": 100}, {})
        letters = await s.dead_letters()
        calls = s.api.calls("/v1/big")
    assert outputs == []
    assert len(calls) == 1
    assert "100 bytes" in letters[0].error


async def test_a_redirect_to_another_host_never_carries_the_token(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/away", "auth": {"service": "acme:crm"}}, {})
        (landed,) = s.api.elsewhere
    assert outputs[0].payload["body"] == {"landed": True}
    assert "Authorization" not in landed.headers


async def test_a_header_secret_is_never_sent_after_a_redirect(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": "/away", "auth": WEATHER}, {}, wire_error=True)
        elsewhere = s.api.elsewhere
    assert elsewhere == []
    assert [(o.component_id, o.payload["status"]) for o in outputs] == [("failed", 302)]


async def test_no_secret_reaches_logs_dead_letters_or_outputs(tmp_path):
    with capture_logs() as logs:
        async with stack(tmp_path) as s:
            await s.run({"url": "/missing", "auth": WEATHER}, {"q": 1}, flow_id="keyed")
            await s.run({"url": "/contacts/{{id}}", "auth": CRM}, {"id": "1"}, flow_id="crm")
            await s.run({"url": "/missing", "auth": CRM}, {}, flow_id="crm404")
            letters = await s.dead_letters()
            outputs = list(s.outputs)
    errors = "".join(str(letter.error) for letter in letters)
    seen = repr(logs) + repr(letters) + repr(outputs) + errors
    for secret in (API_KEY, CLIENT_SECRET, "fresh-token", "stale-token", "refresh-1"):
        assert secret not in seen
    assert len(letters) == 2


async def test_a_call_without_auth_reaches_an_absolute_url(tmp_path):
    async with stack(tmp_path) as s:
        outputs = await s.run({"url": f"{s.base}/v1/echo"}, {})
        (call,) = s.api.seen
    assert outputs[0].payload["body"] == {"method": "GET", "ok": True}
    assert "Authorization" not in call.headers
