"""``harmonia doctor`` for a declared source: its credential, its declared version, one bounded call.

    row = await check_declared(api, today)     # api: a DeclaredAPI (harmonia.sources.declared)

The call is the cheapest the declaration offers: one record of its first list endpoint, else a batch
lookup of a key no account holds (an answer, even empty, proves the URL and the credentials), else a
get of such a key. The quota cell is the pacer's view after that call (it follows the API's headers).
"""

from __future__ import annotations

from datetime import date

from harmonia.doctor.common import CALL_SECONDS, check_credential, credentials_failed, refused_by_api, setting
from harmonia.doctor.report import FAIL, OK, SKIP, WARN, SourceRow
from harmonia.errors import HarmoniaError, UpstreamAuthFailed, UpstreamRateLimited
from harmonia.sources.deadline import operation_deadline
from harmonia.sources.declared.connector import DeclaredAPI
from harmonia.sources.describe import quota_view
from harmonia.sources.versions import WARN_DAYS

PROBE_KEY = "harmonia-doctor@example.invalid"   # a key no account holds (example.invalid is reserved)
AUTH_KINDS = {"none": "no credentials", "bearer": "bearer token", "basic": "basic auth",
              "api_key_header": "API key", "api_key_query": "API key"}


async def check_declared(api: DeclaredAPI, today: date) -> SourceRow:
    name, declaration = api.name, api.declaration
    row = SourceRow(name)
    credential = getattr(api.http, "credential", None)
    if credential is not None and credential.kind != "static":   # a renewing one: renewed here once
        await check_credential(row, name, credential)
    else:
        row.set("credentials", OK, AUTH_KINDS.get(declaration.auth.kind, declaration.auth.kind))
    row.set("scopes", SKIP, "not reported (declared)")
    _version(row, declaration.version, declaration.supported_until, today)
    if credentials_failed(row):
        return row
    try:
        with operation_deadline(CALL_SECONDS):
            await _cheapest_call(api)
    except UpstreamAuthFailed:
        refused_by_api(row, name, credential)
        return row
    except UpstreamRateLimited:
        row.set("quota", WARN, "spent: the API answered with its rate limit")
        row.problem(WARN, "the API's quota is spent for now", "wait for it to refill, or lower the traffic")
        return row
    except HarmoniaError as exc:
        row.problem(FAIL, f"the API could not be used ({exc.code}: {exc})",
                    f"check {setting(name, 'BASE_URL')}, the declaration's paths and the network path to it")
        return row
    view = quota_view(name, api, None)
    if view is None:
        row.set("quota", SKIP, "not reported")
    elif view.headroom is None:
        row.set("quota", OK, view.description)
    else:
        row.set("quota", WARN if view.headroom < 0.1 else OK, f"{view.headroom:.0%} left of {view.description}")
    return row


async def _cheapest_call(api: DeclaredAPI) -> None:
    types = api.declaration.types
    for type_name, decl in types.items():
        if decl.list is not None:
            await api.list_all(type_name, limit=1)
            return
    for type_name, decl in types.items():
        if decl.batch is not None:
            await api.batch(type_name, [PROBE_KEY])
            return
    for type_name, decl in types.items():
        if decl.get is not None:
            await api.get(type_name, [PROBE_KEY])
            return


def _version(row: SourceRow, version: str, supported_until: str | None, today: date) -> None:
    shown = version or "unversioned"
    if supported_until is None:
        row.set("version", OK, f"{shown}, no end declared")
        return
    try:
        left = (date.fromisoformat(supported_until) - today).days
    except ValueError:
        row.set("version", WARN, f"{shown}, end of support unreadable ({supported_until})")
        return
    fix = "declare a current version of the API (version and supported_until in its YAML file)"
    if left < 0:
        row.set("version", FAIL, f"{shown}, ended {supported_until}")
        row.problem(FAIL, f"API version {shown} is past its end of support ({supported_until})", fix)
    elif left <= WARN_DAYS:
        row.set("version", WARN, f"{shown} until {supported_until}")
        row.problem(WARN, f"API version {shown} reaches its end of support within {WARN_DAYS} days", fix)
    else:
        row.set("version", OK, f"{shown} until {supported_until}")
