"""What every source's check does the same way: the credential, the version, one bounded API call.

    token = await check_credential(row, "ga4", connector.http.credential)   # None when it failed (row says why)
    check_version(row, "ga4", "v1beta", today)
    response = await call(row, connector.http, "POST", path, json=body)     # None when unreachable
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from harmonia.credentials import AccessToken, Credential, RenewingCredential
from harmonia.doctor.report import FAIL, OK, SKIP, WARN, SourceRow
from harmonia.errors import CredentialsUnavailable, HarmoniaError
from harmonia.sources._http import SourceHttp
from harmonia.sources.deadline import operation_deadline
from harmonia.sources.versions import CURRENT, WARN_DAYS, support_of

CALL_SECONDS = 15.0
KINDS = {"static": "pasted token", "refresh_token": "refresh token", "client_credentials": "client credentials",
         "jwt_bearer": "service account"}
SHOWN_STATUSES = (400, 401, 403, 404, 429)


def setting(source: str, *names: str) -> str:
    return "HARMONIA_SOURCES__" + "__".join((source.upper(), *names))


async def check_credential(row: SourceRow, source: str, credential: Credential | None) -> AccessToken | None:
    if credential is None:
        return None
    kind = KINDS.get(credential.kind, credential.kind)
    if isinstance(credential, RenewingCredential) and credential.kind == "refresh_token" and source == "shopify" \
            and not credential.store.shared:
        # Renewing here would spend the single-use refresh token a running gateway holds in its memory.
        row.set("credentials", WARN, f"{kind}: not renewed here")
        row.problem(WARN, "a rotating Shopify refresh token is only checked with Redis configured (renewing it "
                    "here would spend the one a running gateway holds)", "set HARMONIA_REDIS_URL as the gateway has it")
        return None
    try:
        with operation_deadline(CALL_SECONDS):
            token = await credential.token()
    except CredentialsUnavailable as exc:
        row.set("credentials", FAIL, f"{kind}: refused ({exc.reason})" if exc.permanent
                else f"{kind}: token endpoint failed ({exc.reason})")
        what = (f"the token endpoint refused the {kind} ({exc.reason})" if exc.permanent
                else f"the token endpoint failed ({exc.reason})")
        row.problem(FAIL, what, _renewal_fix(source, credential, exc))
        return None
    except HarmoniaError as exc:
        row.set("credentials", FAIL, f"{kind}: no token ({exc.code})")
        row.problem(FAIL, f"{kind}: no access token in time", "check that the token endpoint is reachable from here")
        return None
    life = "" if token.expires_at is None else f", {_minutes(token.expires_at - token.issued_at)} left"
    row.set("credentials", OK, f"{kind}{life}")
    return token


def credentials_failed(row: SourceRow) -> bool:
    return row.cells.get("credentials", (OK, ""))[0] == FAIL


def _renewal_fix(source: str, credential: Credential, exc: CredentialsUnavailable) -> str:
    if not exc.permanent:
        return "the token endpoint did not answer: check the network path to it, then run harmonia doctor again"
    if credential.kind == "jwt_bearer":
        return (f"the key in {setting(source, 'SERVICE_ACCOUNT_FILE')} was refused: download a new JSON key for the "
                "service account (Google Cloud console > IAM > Service accounts > Keys)")
    if "client" in exc.reason.lower():
        return f"check {setting(source, 'OAUTH', 'CLIENT_ID')} and {setting(source, 'OAUTH', 'CLIENT_SECRET')}"
    if credential.kind == "client_credentials":
        return "the app is not installed on this shop or its secret was rotated: reinstall it from the Dev Dashboard"
    return (f"the refresh token is revoked, expired or spent: authorize the app again and set "
            f"{setting(source, 'OAUTH', 'REFRESH_TOKEN')} to the new refresh token")


def _minutes(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def check_version(row: SourceRow, source: str, version: str, today: date) -> None:
    support = support_of(source, version)
    left = support.days_left(today)
    fix = f"set {setting(source, 'API_VERSION')}={CURRENT[source]}"
    if not support.known:
        row.set("version", WARN, support.describe(today))
        row.problem(WARN, f"API version {version} is not one Harmonia knows", fix)
    elif left is not None and left < 0:
        row.set("version", FAIL, support.describe(today))
        row.problem(FAIL, f"API version {version} is past its end of support", fix)
    elif left is not None and left <= WARN_DAYS:
        row.set("version", WARN, support.describe(today))
        row.problem(WARN, f"API version {version} reaches its end of support within {WARN_DAYS} days", fix)
    else:
        row.set("version", OK, support.describe(today))


async def call(row: SourceRow, source: str, http: SourceHttp, method: str, path: str, **kwargs: Any
               ) -> httpx.Response | None:
    """One API call; an unreachable API marks the row and gives None."""
    try:
        with operation_deadline(CALL_SECONDS):
            return await http.request(method, path, passthrough=SHOWN_STATUSES, idempotent=True, **kwargs)
    except HarmoniaError as exc:
        row.set("quota", SKIP, "")
        row.problem(FAIL, f"the API could not be reached ({exc.code})",
                    f"check {setting(source, 'BASE_URL')} and the network path to it")
        return None


def refused(row: SourceRow, source: str, response: httpx.Response, credential: Credential | None) -> bool:
    """A 401 from the API itself: mark the credentials and say what to do; True when refused."""
    if response.status_code != 401:
        return False
    refused_by_api(row, source, credential)
    return True


def refused_by_api(row: SourceRow, source: str, credential: Credential | None) -> None:
    kind = credential.kind if credential is not None else "static"
    row.set("credentials", FAIL, f"{KINDS.get(kind, kind)}: refused by the API (401)")
    if kind == "static":
        renewing = (f"{setting(source, 'SERVICE_ACCOUNT_FILE')} or {setting(source, 'OAUTH', '*')}"
                    if source in ("ga4", "googleads") else setting(source, "OAUTH", "*"))
        fix = (f"the token in {setting(source, 'TOKEN')} is expired or revoked: set {renewing} instead, "
               "so Harmonia renews tokens itself")
    else:
        fix = "the app's access was revoked or uninstalled: authorize or install it again"
    row.problem(FAIL, "the API refused the access token", fix)


def scopes_cell(row: SourceRow, granted: frozenset[str] | set[str], required: dict[str, str],
                wanted: dict[str, str], fix: str) -> None:
    """``required``/``wanted``: scope -> what is lost without it (FAIL / WARN)."""
    missing = [s for s in required if s not in granted]
    lacking = [s for s in wanted if s not in granted]
    shown = ", ".join(sorted(short(s) for s in granted & (required.keys() | wanted.keys()))) or "none of the needed"
    row.set("scopes", FAIL if missing else WARN if lacking else OK,
            shown + (f"; missing {', '.join(short(s) for s in missing + lacking)}" if missing or lacking else ""))
    for scope in missing:
        row.problem(FAIL, f"the token lacks {short(scope)}: {required[scope]}", fix.format(scope=short(scope)))
    for scope in lacking:
        row.problem(WARN, f"the token lacks {short(scope)}: {wanted[scope]}", fix.format(scope=short(scope)))


def short(scope: str) -> str:
    return scope.removeprefix("https://www.googleapis.com/auth/")
