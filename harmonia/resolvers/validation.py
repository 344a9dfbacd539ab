"""Input checks for mutations, before any upstream write: each failure is a BAD_USER_INPUT naming the argument.

    email_address(" Ada@Example.com ", "input.email")   -> "ada@example.com"
    e164_phone("+15551230000", "input.phone")           -> "+15551230000"
    e164_phone("(555) 123-0000", "input.phone")         -> BadUserInput: must be E.164, e.g. +15551230000
    one_of("Customer", LIFECYCLE_STAGES, "input.lifecycleStage") -> "customer"
"""

from __future__ import annotations

import re
from collections.abc import Collection

import phonenumbers

from harmonia.errors import BadUserInput

# HubSpot's default lifecycle stages (internal values).
LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                    "customer", "evangelist", "other")
# What a consent change may set: Mailchimp's cleaned and transactional are Mailchimp's own verdicts, not consent.
CONSENT_STATUSES = ("subscribed", "unsubscribed", "pending")

# RFC 5322's dot-atom local part and a domain of LDH labels with a dot: what every one of the SaaS
# APIs accepts, without quoted local parts or IP-literal domains that some of them refuse.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_NAME = 100


def email_address(value: str, argument: str) -> str:
    text = value.strip()
    if len(text) > 254 or not _EMAIL.match(text):
        raise BadUserInput(f"`{argument}` must be an email address, e.g. ada@example.com", argument=argument)
    return text.lower()


def e164_phone(value: str, argument: str) -> str:
    text = value.strip()
    problem = f"`{argument}` must be a phone number in E.164 form, e.g. +15551230000"
    if not _E164.match(text):
        raise BadUserInput(problem, argument=argument)
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise BadUserInput(problem, argument=argument) from None
    if not phonenumbers.is_valid_number(parsed):
        raise BadUserInput(f"`{argument}` is not a valid phone number in any numbering plan", argument=argument)
    return text


def one_of(value: str, allowed: Collection[str], argument: str) -> str:
    """The allowed value ``value`` names, whatever its case."""
    match = {a.lower(): a for a in allowed}.get(value.strip().lower())
    if match is None:
        raise BadUserInput(f"`{argument}` must be one of {', '.join(allowed)}", argument=argument,
                           allowed=list(allowed))
    return match


def name(value: str, argument: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_NAME or any(ord(ch) < 32 for ch in text):
        raise BadUserInput(f"`{argument}` must be 1 to {MAX_NAME} printable characters (null clears it)",
                           argument=argument)
    return text
