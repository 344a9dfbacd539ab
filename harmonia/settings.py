"""Gateway configuration: a YAML file, every key overridable by ``HARMONIA_<SECTION>__<KEY>``.

    settings = load_settings("harmonia.yaml")          # file (if present) + environment
    settings.sources.hubspot.base_url                  # HARMONIA_SOURCES__HUBSPOT__BASE_URL

The embedded defaults point every source at the local simulators (``harmonia simulate``) with
their demo credentials, so ``make demo`` needs no file at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SIMULATOR_URL = "http://127.0.0.1:8100"

# Credentials the simulators accept by default; the gateway's defaults use them too.
DEMO_CREDENTIALS = {
    "hubspot_token": "pat-na1-demo-hubspot-token",
    "shopify_token": "shpat_demo_shopify_token",
    "mailchimp_api_key": "0123456789abcdef0123456789abcdef-us6",
    "mailchimp_list_id": "57afe96172",
    "ga4_token": "ya29.demo-ga4-token",
    "ga4_property_id": "123456789",
    "googleads_token": "ya29.demo-googleads-token",
    "googleads_developer_token": "demo-developer-token",
    "googleads_customer_id": "1234567890",
    # The shipped declared sources (harmonia/sources/declared/shipped) against their simulators.
    "meta_ads_access_token": "EAAGdemoMetaSystemUserToken",
    "meta_ads_ad_account_id": "act_1234567890",
    "klaviyo_api_key": "pk_demo_klaviyo_private_key",
}


class SourceSettings(BaseModel):
    """What every connector shares: where the API is and how patient to be with it."""

    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    pool_timeout: float = 30.0
    max_connections: int = 20
    max_retries: int = 3


class OAuthSettings(BaseModel):
    """A renewing credential (``HARMONIA_SOURCES__<S>__OAUTH__*``): unset ``client_id`` means none.

    With ``refresh_token``: the refresh-token grant (a rotated one replaces it, kept in Redis when set);
    without it (Shopify only): the client-credentials grant. ``token_url`` defaults per vendor
    (``harmonia.credentials.build``). Secrets are ``SecretStr``: a repr or a log line shows ``**********``.
    """

    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_url: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id)


class HubSpotSettings(SourceSettings):
    base_url: str = f"{SIMULATOR_URL}/hubspot"
    token: str = DEMO_CREDENTIALS["hubspot_token"]
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    # Date-versioned CRM paths (/crm/objects/2026-09/contacts); "v3" keeps the older /crm/v3/ paths.
    api_version: str = "2026-09"
    # HubSpot's documented Free/Starter quota, used until its headers say otherwise.
    requests_per_window: int = 100
    window_seconds: float = 10.0


class ShopifySettings(SourceSettings):
    base_url: str = f"{SIMULATOR_URL}/shopify"
    token: str = DEMO_CREDENTIALS["shopify_token"]
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    # The GraphQL Admin API version: the latest stable one, quarterly releases kept about a year.
    api_version: str = "2026-10"
    # Shopify's cost bucket on the Standard plan (points, points restored a second), used only until the
    # first answer reports the shop's own (``extensions.cost.throttleStatus``): a fallback, not a cap.
    maximum_available: float = 2000.0
    restore_rate: float = 100.0


class MailchimpSettings(SourceSettings):
    base_url: str = f"{SIMULATOR_URL}/mailchimp"
    api_key: str = DEMO_CREDENTIALS["mailchimp_api_key"]
    list_id: str = DEMO_CREDENTIALS["mailchimp_list_id"]
    max_concurrency: int = 10


class GA4Settings(SourceSettings):
    base_url: str = f"{SIMULATOR_URL}/ga4"
    token: str = DEMO_CREDENTIALS["ga4_token"]
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    service_account_file: str | None = None  # a Google key file (JSON): beats oauth, which beats token
    api_version: str = "v1beta"
    property_id: str = DEMO_CREDENTIALS["ga4_property_id"]
    max_concurrency: int = 10
    # GA4 reports what is left of the property's tokens per hour / day / project per hour with every
    # answer; under this many on any of them, Harmonia stops calling GA4 until that quota refreshes.
    # Room for what may already be in flight: up to 10 concurrent requests, most under 10 tokens.
    quota_headroom: int = 100
    # The property's token quotas (a Standard property; Analytics 360 has ten times these), for the
    # catalogue's headroom and the burn-rate alerts; GA4 itself says only what is left.
    tokens_per_hour: int = 40_000
    tokens_per_day: int = 200_000


class GoogleAdsSettings(SourceSettings):
    base_url: str = f"{SIMULATOR_URL}/googleads"
    token: str = DEMO_CREDENTIALS["googleads_token"]
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    service_account_file: str | None = None  # a Google key file (JSON): beats oauth, which beats token
    developer_token: str = DEMO_CREDENTIALS["googleads_developer_token"]
    customer_id: str = DEMO_CREDENTIALS["googleads_customer_id"]
    login_customer_id: str | None = None
    api_version: str = "v26"
    currency_code: str = "USD"
    # Google Ads publishes no fixed rate: it throttles per customer with a token bucket; stay well under.
    requests_per_second: float = 8.0


class SourcesSettings(BaseModel):
    # Declared sources (HARMONIA_SOURCES_DIR) read their settings from HARMONIA_SOURCES__<NAME>__<KEY>
    # too: kept here as plain mappings (``model_extra``), checked by their declaration when loaded.
    model_config = ConfigDict(extra="allow")

    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings)
    shopify: ShopifySettings = Field(default_factory=ShopifySettings)
    mailchimp: MailchimpSettings = Field(default_factory=MailchimpSettings)
    ga4: GA4Settings = Field(default_factory=GA4Settings)
    googleads: GoogleAdsSettings = Field(default_factory=GoogleAdsSettings)


class AuthSettings(BaseModel):
    # No default key: `harmonia serve` refuses to start without one of these (harmonia/auth/key_checks.py);
    # only `harmonia demo` makes its own, a random secret per run.
    jwt_secret: str | None = None        # HS256, at least 32 bytes
    jwks_url: str | None = None          # when set, the secret is ignored: RS256/ES256 keys only; needs audience
    issuer: str | None = None
    audience: str | None = None
    # A claim naming the calling application (e.g. `azp`, `client_id`): the client label of /metrics.
    client_claim: str | None = None
    policy_file: str | None = None
    algorithms: list[str] | None = None  # narrows HS256 (secret) or RS256/ES256 (JWKS); never the token's say
    leeway_seconds: float = 10.0         # clock skew tolerated on exp/nbf/iat
    jwks_ttl_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 30.0
    reject_unauthorized: bool = False    # true: any denied field rejects the whole operation


class RoleLimits(BaseModel):
    """One role's overrides of the operation limits and budget; unset keys keep the global value."""

    max_cost: int | None = None
    max_depth: int | None = None
    max_aliases: int | None = None
    max_tokens: int | None = None
    max_root_fields: int | None = None
    max_page_size: int | None = None
    budget_maximum: int | None = None
    budget_restore_rate: float | None = None


class LimitsSettings(BaseModel):
    # graphql-armor's defaults or stricter (depth 6, aliases 15, tokens 1000, cost 5000); depth
    # counts a Relay connection's edges/node as part of the connection (harmonia/limits/plan.py).
    max_cost: int = 5000
    max_depth: int = 6
    max_aliases: int = 15
    max_tokens: int = 1000
    max_root_fields: int = 10
    max_page_size: int = 100
    budget_maximum: int = 20000
    budget_restore_rate: float = 1000.0
    # Per-role overrides, e.g. {"analyst": {"max_cost": 10000}}; a token with several roles gets
    # the most generous value of each key among its roles (as it gets the union of their fields).
    roles: dict[str, RoleLimits] = Field(default_factory=dict)
    # Cost model (IBM cost spec / Apollo demand control): "Type.field" -> points replacing the
    # default of 1 for an object and 0 for a scalar; a SaaS report costs more than a record.
    field_weights: dict[str, int] = Field(default_factory=lambda: {
        "Query.analytics": 20, "Campaign.analytics": 5, "Campaign.stats": 2,
        "OrderConnection.totalCount": 1, "CampaignConnection.totalCount": 1,
    })
    # Assumed sizes of lists that no `first`/`last`/`limit` argument bounds, "Type.field" -> size.
    list_sizes: dict[str, int] = Field(default_factory=lambda: {"Order.lineItems": 5})
    default_list_size: int = 10
    mutation_cost: int = 10


class CachePolicy(BaseModel):
    """How long one kind of upstream record is fresh, then servable while refreshing or when its source fails."""

    ttl: float = 60.0                      # seconds fresh (an upstream Cache-Control max-age overrides it)
    stale_while_revalidate: float = 30.0   # past ttl: served at once while a background refresh runs
    stale_if_error: float = 3600.0         # past ttl: served (and listed in extensions.stale) if the source fails


class UpstreamSettings(BaseModel):
    """Discipline shared by every source: the operation deadline and the circuit breakers."""

    operation_deadline: float = 10.0
    circuit_failure_threshold: int = 5
    circuit_failure_window: float = 30.0
    circuit_reset_seconds: float = 5.0
    # With redis_url set, pacing and circuit state are shared by every gateway instance.
    shared_state: bool = True


class HttpSettings(BaseModel):
    """What the HTTP edge accepts and shows."""

    max_body_bytes: int = 1_000_000
    # Introspection answers each role's own schema; false refuses it for everyone.
    introspection: bool = True
    # GraphiQL on a browser's GET /graphql (the page holds no data: every query needs a token).
    graphiql: bool = True
    # /readyz needs no token: it answers from probes of the sources and Redis at most this old,
    # so no caller can make the gateway call the SaaS APIs faster than this.
    readiness_probe_seconds: float = 5.0
    # Every this many seconds, free C-heap pages go back to the system (harmonia/memory_trim.py); 0: never.
    malloc_trim_seconds: float = Field(default=30.0, ge=0)
    # Browser origins allowed to call the API (CORS); empty: no cross-origin browser calls.
    cors_origins: list[str] = Field(default_factory=list)


class CacheSettings(BaseModel):
    enabled: bool = True
    max_entries: int = 20_000              # in-process tier (LRU)
    redis_timeout: float = 0.25            # per Redis command; a slow Redis must not slow queries down
    redis_retry_after: float = 5.0         # after a Redis failure, tier 1 alone for this long
    responses: bool = True                 # whole answers for warm repeats (harmonia/cache/responses.py)
    max_responses: int = 2_000             # answers kept in process (LRU)
    contacts: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=60))    # HubSpot contacts, pages
    customers: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=60))   # Shopify customers
    orders: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=60))      # Shopify orders, pages, count
    members: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=300))    # Mailchimp list members
    campaigns: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=300))  # Mailchimp + Google Ads
    reports: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=300))    # Mailchimp reports, Ads metrics
    analytics: CachePolicy = Field(default_factory=lambda: CachePolicy(ttl=900))  # GA4 reports


class PersistedQuerySettings(BaseModel):
    enabled: bool = True                   # Apollo automatic persisted queries
    safelist: bool = False                 # only registered operations run (admins excepted)
    manifest: str | None = None            # Apollo persisted-query manifest JSON: registered at start
    # How long an APQ registration lives (Redis and in process): a client that sends a hash after it
    # gets PersistedQueryNotFound and registers again. At most a week: Redis also holds budgets and jobs.
    ttl: float = Field(default=24 * 3600.0, gt=0, le=7 * 24 * 3600.0)
    max_bytes: int = Field(default=16_384, gt=0)             # a longer text runs, but is not stored
    # New registrations per client (token subject), as a bucket refilled over an hour; beyond it a text
    # runs but is not stored. Shared through Redis when configured.
    registrations_per_hour: int = Field(default=100, ge=0)


class IdempotencySettings(BaseModel):
    ttl_seconds: int = 86_400          # how long a retried mutation gets the first answer back
    key_prefix: str = "harmonia:idempotency:"


class ErasureSettings(BaseModel):
    retry_base_seconds: float = 2.0    # first retry of a failed source; doubles each time
    retry_max_seconds: float = 300.0
    max_attempts: int = 100            # then the source is FAILED and the job ends for an operator to see
    poll_seconds: float = 5.0          # how often an instance looks for unfinished jobs to resume
    lease_seconds: float = 30.0        # a job's owner must renew within this, else another instance takes over
    key_prefix: str = "harmonia:erasure:"


class ExecutionSettings(BaseModel):
    # Run each validated document as a plan compiled once (harmonia/execution/), graphql-core's
    # semantics at a fraction of its per-field cost; false: graphql-core's executor for everything.
    compiled: bool = True


class ObservabilitySettings(BaseModel):
    """Logs, metrics and field usage; tracing itself is configured by the standard OTEL_* variables."""

    operation_log: bool = True             # one JSON line per operation on the harmonia.operations logger
    resolver_spans: bool = False           # a span per resolved field (with tracing on): costly, for debugging
    field_usage: bool = True               # count Type.field per client, for fieldUsage
    field_usage_flush_seconds: float = 5.0     # batched writes to Redis
    field_usage_retention_days: int = 30
    field_usage_key_prefix: str = "harmonia:usage:"
    # Field usage is counted per client: the graphql-client-name header, else auth.client_claim, else the
    # token subject. At most this many distinct names per hour per instance (then "(other)"); the names
    # in usage_clients are always kept apart (harmonia/observability/usage_clients.py).
    usage_max_clients: int = 200
    usage_clients: list[str] = Field(default_factory=list)
    metrics_publish_seconds: float = 1.0   # with several workers: how often each shares its figures
    # /metrics needs no token, so its series carry no user: client="all", or with auth.client_claim
    # that claim's value; a list here shows only these values (of the claim, else of the token
    # subject), every other caller as "other" (harmonia/observability/metrics_clients.py).
    metrics_clients: list[str] = Field(default_factory=list)


class AlertsSettings(BaseModel):
    """The in-process anomaly detector (harmonia/observability/anomalies.py) and where it posts."""

    enabled: bool = True
    webhook_url: str | None = None         # Slack-compatible incoming webhook; a secret: never logged
    gateway_name: str = "harmonia"         # how posts name this deployment
    cooldown_seconds: float = 900.0        # at most one post per source and kind per cooldown
    check_seconds: float = 5.0
    recent_seconds: float = 30.0           # compared with the baseline_seconds before it
    baseline_seconds: float = 600.0
    min_calls: int = 5
    latency_factor: float = 3.0            # recent median latency above 3x the baseline's...
    latency_floor_ms: float = 50.0         # ...and at least 50 ms more
    error_ratio: float = 0.2               # recent error ratio above 20% and 3x the baseline's
    quota_headroom: float = 0.1            # a quota under 10% left while calls doubled


class SchemaChecksSettings(BaseModel):
    """Defaults of ``harmonia schema check`` and the admins' dry runs (harmonia/checks)."""

    window: str = "7d"                    # usage looked at: days (7d) or hours (24h)
    # A breaking change is accepted when it hurts at most this many operations in the window ("0": any
    # use blocks), or this share of all operations ("0.5%"), as Hive's conditional breaking changes.
    threshold: str = "0"
    ignored_clients: list[str] = Field(default_factory=list)   # e.g. an internal test client


class Settings(BaseSettings):
    """Everything the gateway reads at start; built once per ``create_app``."""

    model_config = SettingsConfigDict(
        env_prefix="HARMONIA_", env_nested_delimiter="__", extra="ignore", case_sensitive=False,
        # Settings hold secrets (a Redis URL with its password, tokens): never quote them in an error.
        hide_input_in_errors=True,
    )

    redis_url: str | None = None
    # How to reach it (harmonia/shared_state/target.py): standalone, cluster (the URL names any node, or
    # several comma-separated) or sentinel (the URL names the sentinels; redis_sentinel_master the master).
    redis_mode: Literal["standalone", "cluster", "sentinel"] = "standalone"
    redis_sentinel_master: str | None = None
    redis_sentinel_password: SecretStr | None = None   # when the sentinels have a password of their own
    # TLS (rediss://): the CA that signed the server's certificate, and a client certificate if it asks for one.
    redis_tls_ca_file: str | None = None
    redis_tls_cert_file: str | None = None
    redis_tls_key_file: str | None = None
    # Writes that must not be lost (idempotency records, erasure jobs) wait this long for a failover to end,
    # and, on a cluster or sentinel, for this many replicas to acknowledge them (0: none).
    redis_failover_seconds: float = Field(default=15.0, gt=0)
    redis_wait_replicas: int = Field(default=1, ge=0)
    # Development conveniences that map the schema for anyone probing it ("Did you mean ...?"
    # suggestions): off in `harmonia serve` unless asked for, on in `harmonia demo`.
    dev_mode: bool = False
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    # HARMONIA_SOURCES_DIR: a folder of source declarations (one YAML file per API); None: the five only.
    sources_dir: str | None = None
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    persisted_queries: PersistedQuerySettings = Field(default_factory=PersistedQuerySettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    erasure: ErasureSettings = Field(default_factory=ErasureSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    schema_checks: SchemaChecksSettings = Field(default_factory=SchemaChecksSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)

    @model_validator(mode="after")
    def _redis_reachable_as_configured(self) -> Settings:
        """A Redis URL, mode and TLS files that cannot work together fail at start, with the setting to fix."""
        if self.redis_url:
            from harmonia.shared_state.target import RedisTarget

            RedisTarget.from_settings(self)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file: the file arrives through init_settings (lowest here).
        return env_settings, init_settings


def account_identity(source: BaseModel) -> str:
    """Every textual setting of a source, nested ones and secrets included (``oauth.refresh_token``: two
    HubSpot portals share a base URL), as text for a digest naming the account in cache and state keys.
    Only ever hashed: the text holds secrets."""
    def walk(prefix: str, value: Any) -> list[str]:
        if isinstance(value, dict):
            return [line for key in sorted(value) for line in walk(f"{prefix}{key}.", value[key])]
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return [f"{prefix[:-1]}={value}"] if isinstance(value, str) else []

    return "\n".join(walk("", source.model_dump()))


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (``path``, else ``./harmonia.yaml`` when present) under the environment."""
    file_values: dict[str, Any] = {}
    candidate = Path(path) if path is not None else Path("harmonia.yaml")
    if path is not None and not candidate.is_file():
        raise FileNotFoundError(f"config file not found: {candidate}")
    if candidate.is_file():
        loaded = yaml.safe_load(candidate.read_text(encoding="utf-8"))
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{candidate}: the top level must be a mapping of sections")
        file_values = loaded or {}
    _deep_merge(file_values, overrides)
    return Settings(**file_values)


def _deep_merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
