"""What a source declaration says (one YAML file per API), as pydantic models that refuse unknown keys.

    declaration = Declaration.model_validate(yaml.safe_load(text))   # loader.py adds file and line

A declaration names the API (base URL, version, settings it reads from the environment), how to
authenticate, its quota and the headers that correct it, and its types: fields selected from the
JSON with JMESPath and normalized as the built-in connectors normalize them, with the endpoints that
list them, get one, or get many by key (with the API's batch maximum and paging). ``extends`` joins
the types to the unified schema: a field on ``Customer`` found by the customer's email, or campaigns
added to ``Query.campaigns`` under a channel, with their metrics as ``stats``. ``docs/declared-sources.md``
is the reference with both shipped declarations as examples.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{1,60}$")
FIELD_NAME = re.compile(r"^[a-z][A-Za-z0-9]{0,60}$")
SCALARS = ("ID", "String", "Int", "Float", "Boolean", "DateTime", "Money")
NORMALIZERS = ("email", "phone", "datetime", "money", "int", "float", "string")
# The variables a path, a parameter or a header may name, with where they come from.
TEMPLATE = re.compile(r"\{([a-z_]+(?:\.[a-z0-9_]+)?)\}")
TEMPLATE_VARIABLES = frozenset({"version", "keys", "keys_json", "id", "start", "end"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _expression(value: str) -> str:
    try:
        jmespath.compile(value)
    except JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression ({exc})") from None
    return value


def template_names(text: str) -> list[str]:
    """The variables a template names (``{settings.ad_account_id}`` -> ``settings.ad_account_id``)."""
    return TEMPLATE.findall(text)


class Setting(Strict):
    """A value the declaration reads from ``HARMONIA_SOURCES__<NAME>__<KEY>`` (or the config file)."""

    default: str | None = None
    secret: bool = False                 # never logged, hashed into cache and pacing keys only
    description: str = ""


class Auth(Strict):
    kind: Literal["none", "bearer", "basic", "api_key_header", "api_key_query", "oauth_refresh_token",
                  "oauth_client_credentials"]
    token: str | None = None             # bearer; api_key_*: the key (templates: "{settings.api_key}")
    header: str | None = None            # api_key_header: the header; bearer: default Authorization
    prefix: str = ""                     # api_key_header: e.g. "Klaviyo-API-Key "
    param: str | None = None             # api_key_query: the query parameter
    username: str | None = None          # basic
    password: str | None = None          # basic
    token_url: str | None = None         # oauth_*
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    scope: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Auth:
        needs = {"bearer": ("token",), "api_key_header": ("token", "header"), "api_key_query": ("token", "param"),
                 "basic": ("username", "password"), "oauth_refresh_token": ("token_url", "client_id", "refresh_token"),
                 "oauth_client_credentials": ("token_url", "client_id", "client_secret")}.get(self.kind, ())
        missing = [key for key in needs if getattr(self, key) is None]
        if missing:
            raise ValueError(f"auth kind {self.kind} needs {', '.join(missing)}")
        return self


class HeaderReading(Strict):
    """A number read from a response header: the header as a number, or a JMESPath over its JSON."""

    header: str
    select: str | None = None

    @field_validator("select")
    @classmethod
    def select_are_jmespath(cls, value: Any) -> Any:
        return value if value is None else _expression(value)


class QuotaHeaders(Strict):
    """Which answers correct the quota, both ways (the configured numbers are where pacing starts)."""

    limit: HeaderReading | None = None           # calls allowed in the window
    remaining: HeaderReading | None = None       # calls left in the window
    reset_seconds: HeaderReading | None = None   # seconds until the window turns
    used_percent: HeaderReading | None = None    # share of the quota spent, 0..100 (Meta's usage headers)
    regain_minutes: HeaderReading | None = None  # minutes until a throttled account may call again


class Quota(Strict):
    model: Literal["token_bucket", "leaky_bucket", "fixed_window", "concurrency"]
    limit: float = Field(gt=0)          # window: calls per window; bucket: capacity; concurrency: calls in flight
    window_seconds: float = Field(default=1.0, gt=0)  # fixed_window
    rate: float | None = Field(default=None, gt=0)    # buckets: calls restored (leaked) per second
    headroom: int = Field(default=1, ge=0)            # calls left to other clients of the account
    follow: QuotaHeaders | None = None


class Paging(Strict):
    style: Literal["cursor", "next_link", "link_header", "offset", "page_token"]
    cursor: str | None = None            # cursor / page_token: where the next cursor is in the body
    param: str | None = None             # cursor / page_token / offset: the parameter that carries it
    next: str | None = None              # next_link: where the next URL is in the body
    size_param: str | None = None        # the page-size parameter, set to max_page_size
    max_page_size: int = Field(default=100, gt=0)
    max_pages: int = Field(default=50, gt=0)   # a runaway cursor stops here (and says so in the logs)

    @field_validator("cursor", "next")
    @classmethod
    def exprs_are_jmespath(cls, value: Any) -> Any:
        return value if value is None else _expression(value)

    @model_validator(mode="after")
    def _complete(self) -> Paging:
        needs = {"cursor": ("cursor", "param"), "page_token": ("cursor", "param"), "next_link": ("next",),
                 "offset": ("param",)}.get(self.style, ())
        missing = [key for key in needs if getattr(self, key) is None]
        if missing:
            raise ValueError(f"paging style {self.style} needs {', '.join(missing)}")
        return self


class Endpoint(Strict):
    method: Literal["GET", "POST"] = "GET"
    path: str
    params: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    items: str | None = None             # where the records are (None: the body is the record)
    key: str | None = None               # batch: each record's key (JMESPath on the record)
    max_batch: int | None = Field(default=None, gt=0)   # batch: keys per call, the API's maximum
    paging: Paging | None = None

    @field_validator("items", "key")
    @classmethod
    def exprs_are_jmespath(cls, value: Any) -> Any:
        return value if value is None else _expression(value)


class FieldDecl(Strict):
    type: str
    select: str
    normalize: Literal["email", "phone", "datetime", "money", "int", "float", "string"] | None = None
    currency: str | None = None          # money: an ISO code or a template ("{settings.currency}")
    description: str = ""

    @field_validator("select")
    @classmethod
    def select_are_jmespath(cls, value: Any) -> Any:
        return _expression(value)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        named = value.rstrip("!")
        if named not in SCALARS:
            raise ValueError(f"unknown type {value!r} (expected one of: {', '.join(SCALARS)}, optionally with !)")
        return value


class CacheDecl(Strict):
    ttl: float = Field(default=300.0, ge=0)
    stale_while_revalidate: float = Field(default=30.0, ge=0)
    stale_if_error: float = Field(default=3600.0, ge=0)


class TypeDecl(Strict):
    description: str = ""
    key: str                             # the field records are found by (batch) and cached under
    fields: dict[str, FieldDecl]
    list: Endpoint | None = None
    get: Endpoint | None = None
    batch: Endpoint | None = None
    cache: CacheDecl = Field(default_factory=CacheDecl)
    cost: int = Field(default=1, ge=0)   # points per record, as an object field costs by default

    @field_validator("fields")
    @classmethod
    def _names(cls, value: dict[str, FieldDecl]) -> dict[str, FieldDecl]:
        for name in value:
            if not FIELD_NAME.match(name):
                raise ValueError(f"field name {name!r} must be camelCase letters and digits")
        return value

    @model_validator(mode="after")
    def _key_is_a_field(self) -> TypeDecl:
        if self.key not in self.fields:
            raise ValueError(f"key {self.key!r} is not one of the type's fields")
        if self.batch is not None and (self.batch.key is None or self.batch.max_batch is None):
            raise ValueError("a batch endpoint needs key and max_batch")
        return self


class CustomerExtension(Strict):
    """``Customer.<field>``: the record of ``type`` whose key is the customer's normalized email."""

    field: str
    type: str
    by: Literal["email"] = "email"
    description: str = ""


class StatsDecl(Strict):
    """``Campaign.stats`` of a declared campaign: a record of ``type`` found by the campaign's id."""

    type: str
    fields: dict[Literal["clicks", "impressions", "cost", "conversions"], str]   # CampaignStats <- type field
    lifetime_params: dict[str, str] = Field(default_factory=dict)
    range_params: dict[str, str] = Field(default_factory=dict)                  # {start}, {end}


class CampaignsExtension(Strict):
    """Records of ``type`` listed in ``Query.campaigns`` under ``channel``, attributed by their name."""

    type: str
    channel: str
    id: str
    name: str
    status: str | None = None
    stats: StatsDecl | None = None


class Extends(Strict):
    customer: list[CustomerExtension] = Field(default_factory=list)
    campaigns: list[CampaignsExtension] = Field(default_factory=list)


class Errors(Strict):
    rate_limited: str | None = None      # JMESPath on an error body: true when it is a quota refusal

    @field_validator("rate_limited")
    @classmethod
    def expr_are_jmespath(cls, value: Any) -> Any:
        return value if value is None else _expression(value)


class Declaration(Strict):
    name: str
    title: str = ""
    base_url: str
    version: str = ""
    supported_until: str | None = None   # YYYY-MM-DD: `harmonia doctor` and the startup log warn before it
    settings: dict[str, Setting] = Field(default_factory=dict)
    auth: Auth = Field(default_factory=lambda: Auth(kind="none"))
    headers: dict[str, str] = Field(default_factory=dict)
    quota: Quota | None = None
    errors: Errors = Field(default_factory=Errors)
    types: dict[str, TypeDecl]
    extends: Extends = Field(default_factory=Extends)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("name must be lower-case letters, digits and _ (it names HARMONIA_SOURCES__<NAME>__*)")
        return value

    @field_validator("types")
    @classmethod
    def _type_names(cls, value: dict[str, TypeDecl]) -> dict[str, TypeDecl]:
        for name in value:
            if not TYPE_NAME.match(name):
                raise ValueError(f"type name {name!r} must be PascalCase letters and digits")
        return value

    def setting_names(self) -> frozenset[str]:
        return frozenset(self.settings)


def walk_templates(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every string of the raw declaration with where it is, for the template check."""
    if isinstance(data, dict):
        return [pair for key, value in data.items() for pair in walk_templates(value, (*at, key))]
    if isinstance(data, list):
        return [pair for i, value in enumerate(data) for pair in walk_templates(value, (*at, i))]
    return [(at, data)] if isinstance(data, str) else []
