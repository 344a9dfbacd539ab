"""What the gateway refuses to verify tokens with: no key at all, a published or short secret, or a
key set that would take any token its issuer signs.

    check_token_keys(settings.auth)     # ValueError naming the settings to change; None when sound

``harmonia serve`` calls it before starting any worker (one clear message, exit 2) and
``TokenVerifier`` again, so no app is ever built on a key that anyone could sign with.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from harmonia.settings import AuthSettings

SECRET_ENV = "HARMONIA_AUTH__JWT_SECRET"
JWKS_ENV = "HARMONIA_AUTH__JWKS_URL"
AUDIENCE_ENV = "HARMONIA_AUTH__AUDIENCE"
# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
# Secrets printed in this repository's earlier source and README: anyone can sign with them.
PUBLISHED_SECRETS = frozenset({"harmonia-demo-secret-change-me-in-production"})

NO_KEY = (f"no token key configured: set {SECRET_ENV} (auth.jwt_secret, an HS256 secret of at least "
          f"{MIN_SECRET_BYTES} random bytes) or {JWKS_ENV} (auth.jwks_url, your identity provider's key set, "
          f"with {AUDIENCE_ENV}). `harmonia demo` makes its own for a local try-out.")


def check_token_keys(auth: AuthSettings) -> None:
    """Raise ValueError, naming the settings, unless tokens can be verified with a key only the issuer has."""
    if auth.jwks_url:
        _check_key_set(auth.jwks_url, auth.audience)
        return
    secret = auth.jwt_secret
    if not secret:
        raise ValueError(NO_KEY)
    if secret in PUBLISHED_SECRETS:
        raise ValueError(f"{SECRET_ENV} is the demo secret published with Harmonia's source: anyone could sign "
                         "an admin token with it. Generate your own, e.g. "
                         "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ValueError(f"{SECRET_ENV} is shorter than {MIN_SECRET_BYTES} bytes: an HS256 secret that short can "
                         "be guessed offline from any one token. Generate a longer one, e.g. "
                         "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")


def _check_key_set(url: str, audience: str | None) -> None:
    if not audience:
        raise ValueError(f"{JWKS_ENV} is set without {AUDIENCE_ENV} (auth.audience): every token the issuer "
                         "signs, for any of its applications, would be accepted. Set the audience (`aud`) that "
                         "tokens meant for this API carry.")
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or "")):
        return
    raise ValueError(f"{JWKS_ENV} must be an https:// URL (http:// only on this machine's loopback): a key set "
                     "fetched in clear can be swapped on the way, and with it every token.")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
