"""Pydantic models of component manifests and service manifests.

A component manifest (``manifests/<service>/<Component>.json``) describes one component: its
name, handler, auth needs, ports and properties. A service manifest (``service.json``) describes
the service the components talk to. JSON keys are camelCase as in the files; Python attributes
are snake_case.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*\.[A-Z][A-Za-z0-9]*$")
HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MODULE_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
PORT_PATTERN = re.compile(r"^[a-z][A-Za-z0-9_]*$")
SEMVER_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")
HEADER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

DEFAULT_TIMEOUT = 300.0
"""Seconds a ``receive`` or ``tick`` call may run when neither the manifest nor the flow says."""
MAX_TIMEOUT = 86400.0
MAX_CONCURRENCY = 1000
"""The most messages one component of a flow may handle at once (its ``concurrency``)."""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Port(_Model):
    """An in- or out-port; ``schema`` is a JSON Schema of the messages it carries."""

    name: str
    label: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")

    @field_validator("name")
    @classmethod
    def _port_name(cls, value: str) -> str:
        if not PORT_PATTERN.match(value):
            raise ValueError("must start with a lowercase letter and hold only letters, digits, _")
        return value


class AuthRequirement(_Model):
    """The service whose account the component uses and the scopes its calls need.

    ``request_by_default`` false (``"requestByDefault": false``) keeps the scopes out of a
    login that names no flow: for a component that can reach any endpoint (a raw API call),
    whose scopes are asked for only when a flow uses it. With ``header`` and ``secret`` the
    calls carry a secret of the service's app configuration (an API key) instead of a token.
    """

    service: str
    scopes: tuple[str, ...] = ()
    request_by_default: bool = True
    header: str | None = Field(default=None, pattern=HEADER_NAME_PATTERN.pattern)
    """With ``secret``: the request header that carries the secret (e.g. ``X-Api-Key``)."""
    secret: str | None = None
    """A key of the service's app configuration (one of its ``secretKeys``) whose value is
    sent in ``header`` instead of an account's OAuth2 token."""
    scheme: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*$")
    """A word put before the secret in the header (``Bearer``: ``Bearer <secret>``)."""

    @model_validator(mode="after")
    def _header_secret(self) -> AuthRequirement:
        if (self.header is None) != (self.secret is None):
            raise ValueError("header and secret go together: the header that carries the secret")
        if self.scheme is not None and self.secret is None:
            raise ValueError("scheme is the word before a header secret: it needs secret")
        return self


class Quota(_Model):
    """The service's quota resources (rate-limit categories) the component consumes."""

    resources: tuple[str, ...] = ()


class Properties(_Model):
    """The JSON Schema of the component's ``config.properties`` in a flow."""

    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")


class Tick(_Model):
    """Polling triggers: the default seconds between ticks (a property may override it)."""

    interval: float = Field(gt=0)


class ComponentManifest(_Model):
    """One component. ``name`` is ``vendor.service.Component``."""

    name: str
    label: str
    description: str
    version: str = "1.0.0"
    handler: str
    icon: str | None = None
    auth: AuthRequirement | None = None
    quota: Quota | None = None
    properties: Properties = Field(default_factory=Properties)
    in_ports: tuple[Port, ...] = ()
    out_ports: tuple[Port, ...] = ()
    tick: Tick | None = None
    webhook: bool = False
    timeout: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    """Seconds one ``receive`` or ``tick`` call may run before it is cancelled (the message is
    retried); a flow may set its own per component. ``None``: :data:`DEFAULT_TIMEOUT`."""
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY, strict=True)
    """Messages the component handles at once when the flow does not say (``None``: one)."""
    auth_property: str | None = None
    """For a component whose service each flow chooses (a generic REST call): the property
    whose value is the flow's auth requirement (``{"service", "scopes", "header", "secret",
    "scheme"}``); the flow's plan gives the component that ``auth`` (see
    :mod:`runtime.chosen_auth`). Not together with ``auth``."""
    quota_property: str | None = None
    """With ``auth_property``: the property naming the quota resource the calls consume."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("must look like vendor.service.Component (e.g. acme.shop.CreateOrder)")
        return value

    @field_validator("handler")
    @classmethod
    def _handler(cls, value: str) -> str:
        if not HANDLER_PATTERN.match(value):
            raise ValueError("must look like package.module:ClassName")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not SEMVER_PATTERN.match(value):
            raise ValueError("must be a version like 1.0.0")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ComponentManifest:
        for ports, key in ((self.in_ports, "inPorts"), (self.out_ports, "outPorts")):
            names = [p.name for p in ports]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{key} has duplicate port names: {', '.join(duplicates)}")
        if (self.tick is not None or self.webhook) and self.in_ports:
            raise ValueError("a trigger (tick or webhook) must not have inPorts")
        if self.tick is not None and self.webhook:
            raise ValueError("a trigger is either polling (tick) or pushed (webhook), not both")
        self._check_chosen_auth()
        return self

    def _check_chosen_auth(self) -> None:
        if self.auth_property is None:
            if self.quota_property is not None:
                raise ValueError("quotaProperty needs authProperty (the quota is the service's)")
            return
        if self.auth is not None:
            raise ValueError(
                "auth and authProperty exclude each other: the service is fixed or chosen"
            )
        declared = self.properties.schema_.get("properties")
        for key, name in (
            ("authProperty", self.auth_property),
            ("quotaProperty", self.quota_property),
        ):
            if name is not None and not (isinstance(declared, dict) and name in declared):
                raise ValueError(
                    f'{key} names the property "{name}", which properties.schema does not declare'
                )

    @property
    def is_trigger(self) -> bool:
        return not self.in_ports

    @property
    def service(self) -> str:
        """``vendor.service`` part of the name."""
        return self.name.rsplit(".", 1)[0]

    def in_port(self, name: str) -> Port | None:
        return next((p for p in self.in_ports if p.name == name), None)

    def out_port(self, name: str) -> Port | None:
        return next((p for p in self.out_ports if p.name == name), None)


class OAuth2Settings(_Model):
    """How a service's OAuth2 authorization-code flow is driven (used by the auth provider)."""

    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    scope_delimiter: str = " "
    client_authentication: str = Field(default="basic", pattern="^(basic|body)$")
    extra_authorize_params: dict[str, str] = Field(default_factory=dict)
    extra_token_params: dict[str, str] = Field(default_factory=dict)
    profile_url: str | None = None
    account_name_field: str | None = None
    # Scopes the profile call needs: every login asks for them, to name the account.
    profile_scopes: tuple[str, ...] = ()
    refused_grant_statuses: tuple[Annotated[int, Field(ge=400, le=599)], ...] = ()
    """HTTP statuses of the token endpoint that mean the code or refresh token is no good,
    whatever the body says (an answer with OAuth's ``"error": "invalid_grant"`` always does)."""
    hooks: str | None = None
    """``package.module:Class`` of an :class:`~runtime.auth.oauth2.OAuth2Hooks` subclass, for
    what these settings cannot say; imported by the manifest loader."""

    @field_validator("hooks")
    @classmethod
    def _hooks(cls, value: str | None) -> str | None:
        if value is not None and not HANDLER_PATTERN.match(value):
            raise ValueError("must look like package.module:ClassName")
        return value


EVERY_CALL = "*"
"""The quota resource of a rule that counts every call to the service, whatever its category."""

QUOTA_RESOURCE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*)$")


class QuotaRule(_Model):
    """At most ``limit`` calls per ``window`` seconds in ``resource`` (a rate-limit category,
    or ``*`` for every call), per app or per account (of one app).

    Callers wait in arrival order (``queue: "fifo"``, the only order there is); a call that
    would wait more than ``maxWait`` seconds is not made now but retried after that wait.
    """

    resource: str
    limit: int = Field(gt=0)
    window: float = Field(gt=0)
    scope: Literal["app", "account"] = "account"
    max_wait: float = Field(default=60.0, ge=0)
    queue: Literal["fifo"] = "fifo"

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str) -> str:
        if not QUOTA_RESOURCE_PATTERN.match(value):
            raise ValueError(
                "must be a rate-limit category in lowercase letters, digits and _ (e.g."
                ' org_write), or "*" for every call'
            )
        return value


class ServiceManifest(_Model):
    """A service (``vendor:service``, e.g. ``acme:pinterest``) and what is needed to reach it."""

    service: str = Field(pattern=r"^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$")
    label: str
    description: str = ""
    api_base: str | None = None
    config_keys: tuple[str, ...] = ()
    secret_keys: tuple[str, ...] = ()
    oauth2: OAuth2Settings | None = None
    scopes: tuple[str, ...] = ()
    scope_aliases: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Older scope names a person may still give, each standing for some of ``scopes``
    (checked by the manifest loader)."""
    quota: tuple[QuotaRule, ...] = ()
    commands: str | None = None
    """A module whose ``register(commands)`` adds the connector's sub-commands to
    ``flowmixer`` (read from the file alone, see :mod:`runtime.cli.connector_commands`)."""

    @field_validator("commands")
    @classmethod
    def _commands(cls, value: str | None) -> str | None:
        if value is not None and not MODULE_PATTERN.match(value):
            raise ValueError("must be a module path like package.module")
        return value
