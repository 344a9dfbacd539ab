"""Turn each SaaS's encodings into Harmonia's: emails, phones, datetimes, money.

    normalize_email("  Ada@Example.COM ")          -> "ada@example.com"
    normalize_phone("(555) 123-4567")              -> "+15551234567"
    normalize_datetime("1709288100000")            -> "2024-03-01T10:15:00Z"
    normalize_datetime("2024-04-02T09:23:53-05:00") -> "2024-04-02T14:23:53Z"
    normalize_money("199.5", "usd")                -> Money("199.50", "USD")
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers

from harmonia.sources.records import Money

DEFAULT_PHONE_REGION = "US"
# The normalizers below are pure functions of short strings, and a source sends the same values
# again and again (every page of orders repeats its customers' phones and currencies): memoized,
# a 50-contact HubSpot batch no longer spends most of its CPU in libphonenumber's parser.
MEMO_SIZE = 65_536


def normalize_email(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = value.strip().lower()
    return cleaned or None


@lru_cache(maxsize=MEMO_SIZE)
def normalize_phone(value: str | None, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 where the number parses; the digits as typed are never returned half-normalized."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=MEMO_SIZE)
def normalize_datetime(value: str | int | float | None) -> str | None:
    """ISO 8601 UTC with ``Z`` from ISO (any offset), epoch milliseconds, or a bare date."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        millis = int(value)
        parsed = datetime.fromtimestamp(millis / 1000.0, tz=UTC)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    utc = parsed.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_money(amount: str | int | float | Decimal | None, currency: str | None) -> Money | None:
    """Exact decimal string (never through float) with at least two decimals."""
    if amount is None or currency is None:
        return None
    if isinstance(amount, str):
        return _money_from_text(amount, currency)  # Money is frozen: one instance serves every order
    return _money(amount, currency)


@lru_cache(maxsize=MEMO_SIZE)
def _money_from_text(amount: str, currency: str) -> Money | None:
    return _money(amount, currency)


def _money(amount: str | int | float | Decimal, currency: str) -> Money | None:
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation:
        return None
    if value.as_tuple().exponent > -2:  # type: ignore[operator]
        value = value.quantize(Decimal("0.01"))
    return Money(amount=f"{value:f}", currency_code=currency.strip().upper())


def micros_to_money(micros: int | str, currency: str) -> Money:
    value = (Decimal(int(micros)) / Decimal(1_000_000)).quantize(Decimal("0.01"))
    return Money(amount=f"{value:f}", currency_code=currency.upper())
