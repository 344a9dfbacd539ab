"""HubSpot CRM contacts: pages, single reads, batch reads by id or email, search by email.

    contacts = HubSpotContacts.from_settings(settings.sources.hubspot)   # /crm/objects/2026-09/contacts
    page = await contacts.list_contacts(limit=100)               # Page[Contact], next_cursor
    found = await contacts.batch_read(["151", "154", "999999"])  # {"151": Contact, "154": Contact}
    await contacts.aclose()

HubSpot's quirks are handled here once: every property is a string and unset ones are left out,
``createdate`` arrives as ISO or as epoch milliseconds, emails keep the case and spaces people
typed, batch reads take 100 inputs and answer 207 when some are missing, and a 429 carries no
``Retry-After`` (the wait then comes from the pacer's window, kept in step with HubSpot's
``X-HubSpot-RateLimit-*`` headers).

The API version is one setting: a date version (``2026-09``, the default: ``/crm/objects/2026-09/...``)
or ``v3`` (``/crm/v3/objects/...``, unsupported from September 2027); both take the same bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from harmonia.credentials import Credential, credential_for
from harmonia.errors import UpstreamUnavailable
from harmonia.settings import HubSpotSettings
from harmonia.sources._http import SourceHttp, build_client, read_json
from harmonia.sources.normalize import normalize_datetime, normalize_email, normalize_phone
from harmonia.sources.pacing import WindowPacer
from harmonia.sources.records import Contact, Page, direct_constructor

SOURCE = "hubspot"
OBJECTS_PATH = "/crm/v3/objects/contacts"
DEFAULT_VERSION = "2026-09"
PROPERTIES = ("email", "firstname", "lastname", "phone", "lifecyclestage", "createdate",
              "lastmodifieddate", "shopify_customer_id")
PAGE_MAX = 100
# Search has its own per-token limit (4/s in the older changelog, ~5/s in newer docs): stay under both.
SEARCHES_PER_SECOND = 4


class HubSpotContacts:
    """Reads HubSpot contacts; returns ``records.Contact`` with normalized values."""

    BATCH_MAX = 100

    def __init__(self, http: SourceHttp, *, objects_path: str = OBJECTS_PATH) -> None:
        self.http = http
        # Configurable because HubSpot also serves date-versioned paths (/crm/objects/2026-03/contacts).
        self.objects_path = objects_path.rstrip("/")
        self._search_pacer = WindowPacer(SEARCHES_PER_SECOND, 1.0, headroom=0)

    @classmethod
    def from_settings(
        cls, settings: HubSpotSettings, transport: httpx.AsyncBaseTransport | None = None, *,
        credential: Credential | None = None,
    ) -> HubSpotContacts:
        client = build_client(settings, transport=transport)
        pacer = WindowPacer(settings.requests_per_window, settings.window_seconds)
        credential = credential or credential_for(SOURCE, settings, transport=transport)
        http = SourceHttp(SOURCE, client, pacer=pacer, max_retries=settings.max_retries, credential=credential)
        return cls(http, objects_path=objects_path(settings.api_version))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def list_contacts(self, limit: int, after: str | None = None) -> Page[Contact]:
        """One page of non-archived contacts in id order; ``limit`` is clamped to HubSpot's 1..100."""
        params: dict[str, Any] = {
            "limit": max(1, min(limit, PAGE_MAX)),
            "properties": ",".join(PROPERTIES),
            # archived defaults to false, but say so: the customer list must never show archived ones.
            "archived": "false",
        }
        if after:
            params["after"] = after
        body = _body(await self.http.request("GET", self.objects_path, params=params, passthrough=()))
        items = [_contact(obj) for obj in _results(body)]
        return Page(items=items, next_cursor=_next_after(body))

    async def all_contacts(self, page_size: int = PAGE_MAX) -> list[Contact]:
        """Every non-archived contact, following ``paging.next.after`` to the last page."""
        contacts: list[Contact] = []
        after: str | None = None
        while True:
            page = await self.list_contacts(page_size, after)
            contacts.extend(page.items)
            if page.next_cursor is None or page.next_cursor == after:
                return contacts
            after = page.next_cursor

    async def get_contact(self, contact_id: str, *, archived: bool = False) -> Contact | None:
        """The contact with this id, or None when HubSpot has no such (non-archived, or archived) contact."""
        if not _is_id(contact_id):
            return None  # HubSpot ids are numeric; anything else cannot exist (and must not reach the path)
        params = {"properties": ",".join(PROPERTIES), "archived": "true" if archived else "false"}
        response = await self.http.request("GET", f"{self.objects_path}/{contact_id}", params=params)
        if response.status_code == 404:
            return None
        return _contact(_body(response))

    async def batch_read(self, ids: Sequence[str]) -> dict[str, Contact]:
        """Contacts by id; ids HubSpot does not know are simply absent from the answer."""
        wanted = [i for i in dict.fromkeys(str(i).strip() for i in ids) if _is_id(i)]
        found = await self._batch(wanted, id_property=None)
        return {contact.id: contact for contact in found}

    async def batch_read_by_email(self, emails: Sequence[str]) -> dict[str, Contact]:
        """Contacts keyed by normalized email; emails HubSpot does not know are absent."""
        wanted = list(dict.fromkeys(e for e in (normalize_email(raw) for raw in emails) if e))
        found = await self._batch(wanted, id_property="email")
        return {contact.email: contact for contact in found if contact.email is not None}

    async def search_by_email(self, email: str) -> Contact | None:
        """The non-archived contact whose primary email is ``email`` (any case or spacing)."""
        normalized = normalize_email(email)
        if normalized is None:
            return None
        payload = {
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": normalized}]}],
            "properties": list(PROPERTIES),
            "limit": 1,
        }
        await self._search_pacer.acquire()
        try:
            response = await self.http.request("POST", f"{self.objects_path}/search", json=payload,
                                               idempotent=True, passthrough=())
        finally:
            # None: the search window is fixed at 1 s; the 10-second headers belong to the main pacer.
            await self._search_pacer.release(None)
        results = _results(_body(response))
        return _contact(results[0]) if results else None

    async def _batch(self, keys: list[str], id_property: str | None) -> list[Contact]:
        chunks = [keys[i:i + self.BATCH_MAX] for i in range(0, len(keys), self.BATCH_MAX)]
        answers = await asyncio.gather(*(self._read_chunk(chunk, id_property) for chunk in chunks))
        return [contact for answer in answers for contact in answer]

    async def _read_chunk(self, keys: list[str], id_property: str | None) -> list[Contact]:
        payload: dict[str, Any] = {
            "inputs": [{"id": key} for key in keys],
            "properties": list(PROPERTIES),
            "propertiesWithHistory": [],
        }
        if id_property is not None:
            payload["idProperty"] = id_property
        # A read sent as POST: safe to retry. 207 (some missing) is a success; a 404 for the
        # whole batch is read as "none of them exist".
        response = await self.http.request("POST", f"{self.objects_path}/batch/read", json=payload,
                                           params={"archived": "false"}, idempotent=True)
        if response.status_code == 404:
            return []
        return [_contact(obj) for obj in _results(_body(response))]


def objects_path(api_version: str) -> str:
    """``/crm/objects/2026-09/contacts`` for a date version, ``/crm/v3/objects/contacts`` for ``v3``."""
    version = api_version.strip() or DEFAULT_VERSION
    if version.lower() == "v3":
        return OBJECTS_PATH
    return f"/crm/objects/{version}/contacts"


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = read_json(response)
    except ValueError as exc:
        raise UpstreamUnavailable(SOURCE, "hubspot sent an unreadable answer") from exc
    if not isinstance(body, dict):
        raise UpstreamUnavailable(SOURCE, "hubspot sent an unexpected answer")
    return body


def _results(body: dict[str, Any]) -> list[dict[str, Any]]:
    results = body.get("results") or []
    if not isinstance(results, list):
        raise UpstreamUnavailable(SOURCE, "hubspot sent an unexpected answer")
    return results


def _next_after(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return str(after) if after not in (None, "") else None


def _text(properties: dict[str, Any], name: str) -> str | None:
    value = properties.get(name)
    if type(value) is str:  # what HubSpot sends: no str() round trip
        return value.strip() or None
    if value is None:
        return None
    return str(value).strip() or None


_new_contact = direct_constructor(Contact)


def _contact(obj: Any) -> Contact:
    """One wire object -> Contact; unset properties (absent or null) become None."""
    if not isinstance(obj, dict) or obj.get("id") in (None, ""):
        raise UpstreamUnavailable(SOURCE, "hubspot sent a contact without an id")
    props = obj.get("properties")
    props = props if isinstance(props, dict) else {}
    return _new_contact(
        id=str(obj["id"]),
        email=normalize_email(_text(props, "email")),
        first_name=_text(props, "firstname"),
        last_name=_text(props, "lastname"),
        phone=normalize_phone(_text(props, "phone")),
        lifecycle_stage=_text(props, "lifecyclestage"),
        # ``createdate`` first, then the object's ``createdAt``: the first that reads as a datetime.
        created_at=_datetime(props.get("createdate")) or _datetime(obj.get("createdAt")),
        updated_at=_datetime(props.get("lastmodifieddate")) or _datetime(obj.get("updatedAt")),
        shopify_customer_id=_text(props, "shopify_customer_id"),
        archived=bool(obj.get("archived", False)),
    )


_DATETIME_TYPES = (str, int, float)  # a tuple: isinstance() checks it faster than a union


def _datetime(value: Any) -> str | None:
    if not isinstance(value, _DATETIME_TYPES):
        return None
    try:
        return normalize_datetime(value)
    except (OverflowError, OSError, ValueError):
        return None  # an epoch-ms string out of any calendar's range
