"""What a connector declares in its service manifest, built in or a plug-in: OAuth2 hooks named
by import path, the token endpoint's refusals, older scope names, each checked at load with its
JSON path."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from runtime.auth.oauth2 import InvalidGrantError, OAuth2Client, OAuth2Error
from runtime.auth.scopes import normalize_scopes
from runtime.errors import ConfigurationError
from runtime.manifest import ServiceManifest
from runtime.plugins import from_folder
from runtime.registry import Registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WHISPER = FIXTURES / "plugin_folder"
APP = {"clientId": "app-1", "clientSecret": "s3cret-value"}


def service(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service": "declco:api",
        "label": "Decl",
        "scopes": ["items:read", "items:write"],
    }
    return {**data, **changes}


def plugin_problems(tmp_path: Path, manifest: dict[str, Any], **modules: str) -> list[str]:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "service.json").write_text(json.dumps(manifest))
    for name, text in modules.items():
        (folder / f"{name}.py").write_text(text)
    registry = Registry.load(plugins=[from_folder(folder)])
    assert registry.service(manifest["service"]) is None  # a broken plug-in is left out whole
    [error] = registry.broken
    return [str(problem) for problem in error.problems]


# -- OAuth2 hooks ------------------------------------------------------------------------------


def test_a_plugin_service_gets_the_hooks_its_manifest_names():
    registry = Registry.load(plugins=[from_folder(WHISPER)])
    assert registry.broken == ()
    assert type(registry.oauth2_hooks("whisperco:text")).__name__ == "WhisperHooks"


def test_a_service_whose_manifest_names_no_hooks_leaves_the_client_its_defaults():
    registry = Registry.load()
    pinterest = registry.service("acme:pinterest")
    assert pinterest is not None
    assert pinterest.oauth2 is not None
    assert pinterest.oauth2.hooks is None
    assert registry.oauth2_hooks("acme:pinterest") is None


def unique(stem: str) -> str:
    # modules stay imported for the whole session: each case gets a name of its own
    return f"{stem}_{uuid.uuid4().hex[:8]}"


NOT_HOOKS = "class Plain:\n    pass\n"
NEEDS_ARGS = (
    "from runtime.auth import OAuth2Hooks\n\n\nclass Hooks(OAuth2Hooks):\n"
    "    def __init__(self, x: int) -> None:\n        self.x = x\n"
)


@pytest.mark.parametrize(
    ("source", "attribute", "expected"),
    [
        (
            NOT_HOOKS,
            "Plain",
            'names "{module}:Plain", which is not an OAuth2 hooks class; hooks must be a'
            " subclass of runtime.auth.oauth2.OAuth2Hooks",
        ),
        (NOT_HOOKS, "Plane", 'names "Plane", which module "{module}" lacks; did you mean "Plain"?'),
        (
            "raise RuntimeError('boom')\n",
            "Hooks",
            'names the module "{module}", which cannot be imported (RuntimeError: boom)',
        ),
        (
            NEEDS_ARGS,
            "Hooks",
            'names "{module}:Hooks", which cannot be made without arguments (TypeError:',
        ),
    ],
    ids=["not-a-subclass", "missing-name", "module-fails", "needs-arguments"],
)
def test_unusable_hooks_are_a_problem_at_oauth2_hooks_worded_as_for_handlers(
    tmp_path, source, attribute, expected
):
    module = unique("hooks")
    oauth2 = {"authorizeUrl": "https://x.test/a", "tokenUrl": "https://x.test/t"}
    manifest = service(oauth2={**oauth2, "hooks": f"{module}:{attribute}"})
    [problem] = plugin_problems(tmp_path, manifest, **{module: source})
    assert problem.startswith("service.json $.oauth2.hooks: " + expected.format(module=module))


def test_hooks_named_in_a_malformed_way_are_refused_at_their_path(tmp_path):
    oauth2 = {"authorizeUrl": "https://x.test/a", "tokenUrl": "https://x.test/t", "hooks": "nope"}
    assert plugin_problems(tmp_path, service(oauth2=oauth2)) == [
        "service.json $.oauth2.hooks: must look like package.module:ClassName"
    ]


# -- the token endpoint, over a real socket ----------------------------------------------------


@dataclass
class TokenEndpoint:
    """A loopback OAuth2 server: answers ``answer`` at /token, a nested profile at /me."""

    url: str
    answer: tuple[int, Any] = (200, {"access_token": "at-1", "refresh_token": "rt-1"})
    forms: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def endpoint() -> AsyncIterator[TokenEndpoint]:
    found = TokenEndpoint("")

    async def token(request: web.Request) -> web.Response:
        found.forms.append(dict(await request.post()))
        status, body = found.answer
        return web.json_response(body, status=status)

    async def me(request: web.Request) -> web.Response:
        return web.json_response({"user": {"login": "ann"}})

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/me", me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


def manifest_at(endpoint: TokenEndpoint, **oauth2: Any) -> ServiceManifest:
    settings = {"authorizeUrl": f"{endpoint.url}/authorize", "tokenUrl": f"{endpoint.url}/token"}
    return ServiceManifest.model_validate(service(oauth2={**settings, **oauth2}))


@pytest.mark.parametrize(
    ("statuses", "answer", "refused"),
    [
        ([400], (400, {"code": 1, "message": "Invalid refresh token"}), True),
        ([], (400, {"code": 1, "message": "Invalid refresh token"}), False),
        ([], (400, {"error": "invalid_grant"}), True),
        ([400], (401, {"error": "invalid_client"}), False),
    ],
    ids=["declared-status", "undeclared-status", "oauth-invalid-grant", "other-status"],
)
async def test_a_refused_grant_is_what_the_manifest_declares_or_oauths_invalid_grant(
    endpoint, statuses, answer, refused
):
    endpoint.answer = answer
    manifest = manifest_at(endpoint, refusedGrantStatuses=statuses)
    async with aiohttp.ClientSession() as session:
        client = OAuth2Client(manifest, APP, session)
        with pytest.raises(OAuth2Error if not refused else InvalidGrantError) as caught:
            await client.refresh("rt-old")
    assert isinstance(caught.value, InvalidGrantError) is refused
    assert "rt-old" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_pinterests_particulars_are_settings_of_its_manifest(endpoint):
    pinterest = Registry.load().service("acme:pinterest")
    assert pinterest is not None
    assert pinterest.oauth2 is not None
    manifest = ServiceManifest.model_validate(
        {
            **pinterest.model_dump(by_alias=True, exclude_none=True),
            "apiBase": endpoint.url,
            "oauth2": {
                **pinterest.oauth2.model_dump(by_alias=True, exclude_none=True),
                "tokenUrl": f"{endpoint.url}/token",
            },
        }
    )
    async with aiohttp.ClientSession() as session:
        client = OAuth2Client(manifest, APP, session)
        await client.exchange_code("code-1", "http://127.0.0.1:5555/callback")
        await client.refresh("rt-1")
        endpoint.answer = (400, {"code": 1, "message": "Invalid refresh token"})
        with pytest.raises(InvalidGrantError, match="refused the refresh token"):
            await client.refresh("rt-1")
    assert [form["continuous_refresh"] for form in endpoint.forms] == ["true"] * 3


async def test_a_plugins_hooks_name_the_account_as_its_service_answers(endpoint):
    registry = Registry.load(plugins=[from_folder(WHISPER)])
    manifest = manifest_at(endpoint, profileUrl=f"{endpoint.url}/me")
    async with aiohttp.ClientSession() as session:
        client = OAuth2Client(manifest, APP, session, registry.oauth2_hooks("whisperco:text"))
        tokens = await client.exchange_code("code-1", "http://127.0.0.1:5555/callback")
        assert await client.account_name(tokens) == "ann"


# -- older scope names --------------------------------------------------------------------------


def test_a_plugin_services_older_scope_names_map_to_its_scopes():
    registry = Registry.load(plugins=[from_folder(WHISPER)])
    whisper = registry.service("whisperco:text")
    assert whisper is not None
    assert normalize_scopes(whisper, ["write"]) == ("text:read", "text:write")
    with pytest.raises(ConfigurationError) as refused:
        normalize_scopes(whisper, ["text:delete"])
    assert str(refused.value) == (
        "whisperco:text has no scope 'text:delete'; its scopes are: text:read, text:write"
        " (older names also accepted: read, write)"
    )


def test_a_service_without_older_names_mentions_none():
    plain = ServiceManifest.model_validate(service())
    with pytest.raises(ConfigurationError) as refused:
        normalize_scopes(plain, ["read_public"])
    assert "older names" not in str(refused.value)


@pytest.mark.parametrize(
    ("aliases", "scopes", "expected"),
    [
        (
            {"items:read": ["items:write"]},
            None,
            [
                'service.json $.scopeAliases["items:read"]: "items:read" is a scope of the'
                " service itself; an alias must not shadow it"
            ],
        ),
        (
            {"read": ["items:read", "item:write"]},
            None,
            [
                'service.json $.scopeAliases.read[1]: names the scope "item:write", which the'
                " service does not list; its scopes are: items:read, items:write; did you mean"
                ' "items:write"?'
            ],
        ),
        (
            {"read": []},
            None,
            ["service.json $.scopeAliases.read: must name at least one of the service's scopes"],
        ),
        (
            {"read": ["items:read"]},
            [],
            ["service.json $.scopeAliases: needs the scopes they stand for: list them in scopes"],
        ),
    ],
    ids=["shadows-a-scope", "unknown-target", "no-target", "service-lists-no-scopes"],
)
def test_scope_aliases_are_checked_at_load_naming_the_json_path(
    tmp_path, aliases, scopes, expected
):
    manifest = service(scopeAliases=aliases)
    if scopes is not None:
        manifest["scopes"] = scopes
    assert plugin_problems(tmp_path, manifest) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"commands": "not a module"},
            "service.json $.commands: must be a module path like package.module",
        ),
        (
            {
                "oauth2": {
                    "authorizeUrl": "https://x.test/a",
                    "tokenUrl": "https://x.test/t",
                    "refusedGrantStatuses": [200],
                }
            },
            "service.json $.oauth2.refusedGrantStatuses[0]: must be greater than or equal to"
            " 400 (it is 200)",
        ),
    ],
    ids=["commands", "refused-grant-status"],
)
def test_a_malformed_commands_module_or_refusal_status_is_refused_at_its_path(
    tmp_path, changes, expected
):
    assert plugin_problems(tmp_path, service(**changes)) == [expected]
