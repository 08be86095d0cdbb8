"""Logging: JSON lines or console, level filtering, and secrets that never reach the output."""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from runtime.errors import ConfigurationError
from runtime.logging import (
    configure_logging,
    get_logger,
    redact_secrets,
    reset_logging,
)
from runtime.redaction import is_secret_key, redact_text


class TerminalStream(io.StringIO):
    """A text buffer that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    reset_logging()
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(fmt: str = "json", level: str = "info") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt=fmt, level=level, stream=stream)
    return stream


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def redact(**event: Any) -> dict[str, Any]:
    return dict(redact_secrets(None, "info", event))


# -- output ---------------------------------------------------------------------------------


def test_json_output_is_one_object_per_line_with_timestamp_level_event_and_bound_keys():
    stream = configured("json")
    log = get_logger("flowmixer.test", flow_id="repin")

    log.info("flow started", components=3)
    log.warning("slow component", component_id="copy")

    first, second = json_lines(stream)
    assert first["event"] == "flow started"
    assert first["level"] == "info"
    assert first["logger"] == "flowmixer.test"
    assert first["flow_id"] == "repin"
    assert first["components"] == 3
    assert second["level"] == "warning"
    assert second["component_id"] == "copy"
    stamp = datetime.fromisoformat(first["timestamp"])
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_auto_format_on_a_terminal_is_for_people():
    stream = TerminalStream()
    configure_logging(fmt="auto", stream=stream)

    get_logger("flowmixer.test", flow_id="repin").info("flow started")

    text = stream.getvalue()
    assert "flow started" in text
    assert "repin" in text
    assert "\x1b[" in text  # coloured
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_auto_format_elsewhere_is_json():
    stream = configured("auto")

    get_logger().info("flow started")

    assert json_lines(stream)[0]["event"] == "flow started"


def test_console_format_on_a_pipe_has_no_colours():
    stream = configured("console")

    get_logger().info("flow started", flow_id="repin")

    text = stream.getvalue()
    assert "flow started" in text
    assert "flow_id=repin" in text
    assert "\x1b[" not in text


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("debug", ["debug", "info", "warning", "error"]),
        ("info", ["info", "warning", "error"]),
        ("warning", ["warning", "error"]),
        ("critical", []),
    ],
    ids=["debug", "info", "warning", "critical"],
)
def test_only_lines_at_or_above_the_level_are_written(level: str, shown: list[str]):
    stream = configured("json", level)
    log = get_logger()

    log.debug("debug")
    log.info("info")
    log.warning("warning")
    log.error("error")

    assert [line["event"] for line in json_lines(stream)] == shown


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({"fmt": "xml"}, "fmt='xml'"), ({"level": "loud"}, "level='loud'")],
    ids=["format", "level"],
)
def test_an_unknown_format_or_level_is_refused_with_the_choices(
    arguments: dict[str, Any], named: str
):
    with pytest.raises(ConfigurationError) as caught:
        configure_logging(**arguments)

    assert named in str(caught.value)
    assert "use one of" in str(caught.value)


def test_lines_go_to_standard_error_by_default(capsys: pytest.CaptureFixture[str]):
    configure_logging(fmt="json")

    get_logger().info("flow started")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err)["event"] == "flow started"


def test_configuring_again_replaces_the_previous_output():
    first = configured("json")
    second = configured("json")

    get_logger().info("structlog line")
    logging.getLogger("aiohttp.server").warning("stdlib line")

    assert first.getvalue() == ""
    assert [line["event"] for line in json_lines(second)] == ["structlog line", "stdlib line"]


def test_resetting_stops_writing_to_the_configured_stream():
    stream = configured("json")

    reset_logging()
    logging.getLogger("aiohttp.server").warning("after reset")

    assert stream.getvalue() == ""
    assert structlog.is_configured() is False


def test_a_logger_made_before_configuration_follows_it():
    log = get_logger("early", flow_id="repin")
    stream = configured("json")

    log.info("flow started")

    assert json_lines(stream)[0]["flow_id"] == "repin"


def test_get_logger_binds_its_keys_to_every_line():
    with capture_logs() as logs:
        log = get_logger("flowmixer.test", flow_id="repin", component_id="copy")
        log.info("first")
        log.bind(correlation_id="event-1").info("second")

    assert [entry["event"] for entry in logs] == ["first", "second"]
    assert all(entry["flow_id"] == "repin" for entry in logs)
    assert logs[1]["correlation_id"] == "event-1"


def test_standard_library_records_are_rendered_and_redacted_alike():
    stream = configured("json")

    logging.getLogger("aiohttp.access").info("GET /oauth/callback?code=c0de-123&state=s1 200")

    (line,) = json_lines(stream)
    assert line["logger"] == "aiohttp.access"
    assert line["level"] == "info"
    assert line["event"] == "GET /oauth/callback?code=***&state=s1 200"
    assert "timestamp" in line


@pytest.mark.parametrize("fmt", ["json", "console"], ids=["json", "console"])
def test_a_traceback_never_shows_a_credential(fmt: str):
    stream = configured(fmt)

    try:
        raise RuntimeError("refresh failed with Bearer tok3n-value and client_secret=s3cret")
    except RuntimeError:
        get_logger().exception("token refresh failed")

    text = stream.getvalue()
    assert "RuntimeError" in text
    assert "tok3n-value" not in text
    assert "s3cret" not in text


@pytest.mark.parametrize("fmt", ["json", "console"], ids=["json", "console"])
def test_an_object_whose_repr_holds_a_secret_is_logged_without_it(fmt: str):
    class Grant:
        def __repr__(self) -> str:
            return "Grant(account='ann', access_token='at-123', scopes=['pins:read'])"

    stream = configured(fmt)

    get_logger().info("connected", grant=Grant())

    text = stream.getvalue()
    assert "account='ann'" in text
    assert "at-123" not in text


# -- redaction ------------------------------------------------------------------------------


def test_secrets_are_hidden_at_any_depth():
    event = redact(
        event="request failed",
        request={
            "attempts": [
                {"headers": {"Authorization": "Bearer abc", "Accept": "application/json"}},
                ({"refresh_token": "r-1"}, "kept"),
            ],
            "url": "https://api.example.test/v5/pins",
        },
    )

    attempts = event["request"]["attempts"]
    assert attempts[0]["headers"] == {"Authorization": "***", "Accept": "application/json"}
    assert attempts[1] == ({"refresh_token": "***"}, "kept")
    assert event["request"]["url"] == "https://api.example.test/v5/pins"


def test_the_whole_value_of_a_secret_key_is_hidden_whatever_its_type():
    event = redact(credentials={"user": "ann", "pin": 1234}, password=1234, cookie=["a", "b"])

    assert event == {"credentials": "***", "password": "***", "cookie": "***"}


def test_a_missing_secret_is_shown_as_missing():
    assert redact(access_token=None) == {"access_token": None}


def test_data_without_secrets_is_left_equal():
    event = {
        "event": "pin created",
        "flow_id": "repin",
        "status_code": 201,
        "pin": {"id": "p1", "tags": ("a", "b"), "boards": {"b1", "b2"}, "ratio": 0.5},
    }

    assert redact(**event) == event


def test_the_callers_objects_are_never_changed():
    headers = {"Authorization": "Bearer abc", "nested": [{"password": "pw"}]}
    before = copy.deepcopy(headers)

    event = redact(headers=headers, note="Bearer xyz")

    assert headers == before
    assert event["headers"] is not headers
    assert event["headers"]["nested"][0] == {"password": "***"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent Authorization: Bearer eyJhbGciOi.J9x-_y", "sent Authorization: *** ***"),
        ("header was Bearer abc.def/ghi+=", "header was Bearer ***"),
        ("with basic dXNlcjpwYXNzd29yZA==", "with basic ***"),
        ("Basic setup done", "Basic setup done"),
        ("GET /cb?code=4/0Ad&state=x", "GET /cb?code=***&state=x"),
        (
            "POST /token body grant_type=x&refresh_token=r1",
            "POST /token body grant_type=x&refresh_token=***",
        ),
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("https://ann:pw@example.test/x", "https://ann:***@example.test/x"),
        (
            'said {"access_token": "at-1", "expires_in": 3600}',
            'said {"access_token": "***", "expires_in": 3600}',
        ),
        ("Token(access_token='a b c', scope='pins')", "Token(access_token='***', scope='pins')"),
        ("status_code=429 error_code=rate_limited", "status_code=429 error_code=rate_limited"),
        (
            "https://api.example.test/v5/pins?bookmark=b1",
            "https://api.example.test/v5/pins?bookmark=b1",
        ),
    ],
    ids=[
        "authorization-header",
        "bearer",
        "basic",
        "basic-in-prose",
        "oauth-callback-url",
        "form-body",
        "url-password-only",
        "url-user-and-password",
        "json-body",
        "repr",
        "plain-codes",
        "plain-url",
    ],
)
def test_credentials_inside_text_are_hidden(text: str, expected: str):
    assert redact_text(text) == expected
    assert redact(event=text)["event"] == expected


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        ("access_token", "at", True),
        ("refreshToken", "rt", True),
        ("clientSecret", "cs", True),
        ("password", "pw", True),
        ("db_passwd", "pw", True),
        ("Authorization", "Bearer x", True),
        ("X-Api-Key", "k", True),
        ("APIKey", "k", True),
        ("Set-Cookie", "c", True),
        ("private_key", "pk", True),
        ("auth", {"token": "t"}, True),
        ("code", "4/0Ad", True),
        ("authCode", "ac", True),
        ("verification_code", "123456", True),
        ("code_verifier", "v", True),
        ("code", 400, False),
        ("verification_code", 123456, False),
        ("status_code", 200, False),
        ("statusCode", "200", False),
        ("error_code", "invalid_grant", False),
        ("country_code", "US", False),
        ("barcode", "x", False),
        ("codec", "utf-8", False),
        ("author", "ann", False),
        ("flow_id", "repin", False),
    ],
    ids=lambda part: str(part),
)
def test_which_keys_count_as_secret(key: str, value: Any, secret: bool):
    assert is_secret_key(key, value) is secret
    assert (redact(**{key: value})[key] == "***") is secret


def test_structures_nested_too_deep_are_cut_rather_than_leaked():
    deep: Any = {"password": "deep-secret"}
    for _ in range(40):
        deep = {"inner": [deep]}

    stream = configured("json")
    get_logger().info("deep", data=deep)

    assert "deep-secret" not in stream.getvalue()
    assert "too deep" in stream.getvalue()


# -- properties -----------------------------------------------------------------------------

SECRET_KEYS = st.sampled_from(
    ["access_token", "refreshToken", "client_secret", "password", "Authorization", "X-Api-Key",
     "code", "authCode", "cookie", "private_key"]
)  # fmt: skip
NOISE = st.none() | st.booleans() | st.integers() | st.text(alphabet="abcxyz019 _-:=", max_size=8)


def _plant(key: str, value: str, noise: Any, wrappers: list[str]) -> Any:
    planted: Any = {key: value, "other": noise}
    for index, wrapper in enumerate(wrappers):
        if wrapper == "dict":
            planted = {f"level{index}": planted, "sibling": noise}
        elif wrapper == "list":
            planted = [noise, planted]
        else:
            planted = (planted, noise)
    return planted


@given(
    key=SECRET_KEYS,
    value=st.text(max_size=20).map(lambda suffix: "SECRET" + suffix),
    noise=NOISE,
    wrappers=st.lists(st.sampled_from(["dict", "list", "tuple"]), max_size=8),
    fmt=st.sampled_from(["json", "console"]),
)
def test_a_secret_planted_at_any_depth_never_reaches_the_output(
    key: str, value: str, noise: Any, wrappers: list[str], fmt: str
):
    stream = configured(fmt)

    get_logger().info("event", payload=_plant(key, value, noise, wrappers))

    assert "SECRET" not in stream.getvalue()


@given(
    credential=st.text(alphabet="ABCDEFabcdef0123456789-._~+/", min_size=1, max_size=30),
    prefix=st.tuples(st.text(alphabet="abc :,", max_size=10), st.sampled_from(" :,'\"=(")).map(
        "".join
    ),
    scheme=st.sampled_from(["Bearer", "bearer", "Basic"]),
)
def test_a_credential_in_any_message_never_reaches_the_output(
    credential: str, prefix: str, scheme: str
):
    stream = configured("json")

    get_logger().info(f"{prefix}{scheme} SECRET{credential}")

    assert "SECRET" not in stream.getvalue()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=12,
)


@given(data=json_values, message=st.text())
def test_json_output_stays_one_valid_object_per_line_whatever_is_logged(data: Any, message: str):
    stream = configured("json")

    get_logger().info(message, data=data)

    (line,) = json_lines(stream)
    assert line["level"] == "info"
