"""A Google service-account key file, and the signed JWT it trades for an access token (RFC 7523).

    key = ServiceAccountKey.from_file("/run/secrets/harmonia-ga4.json")
    assertion = key.assertion(["https://www.googleapis.com/auth/analytics.readonly"], now=int(time.time()))

The claims are google-auth's (``google/oauth2/service_account.py``): ``iss`` the key's ``client_email``,
``scope`` space-separated, ``aud`` the key's ``token_uri``, ``iat`` and ``exp`` one hour later (Google's
maximum), RS256 with ``kid`` = ``private_key_id``. The key is parsed once, at startup, so a broken file
fails ``harmonia serve`` with the file's name and what is wrong, never its contents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ASSERTION_LIFETIME = 3600  # Google refuses an assertion whose exp is more than an hour after iat
REQUIRED = ("type", "client_email", "private_key", "private_key_id", "token_uri")


@dataclass(frozen=True)
class ServiceAccountKey:
    client_email: str
    private_key_id: str
    token_uri: str
    project_id: str | None = None
    signing_key: RSAPrivateKey | None = field(default=None, repr=False)
    pem: str = field(default="", repr=False)  # kept for deriving the key that seals what Redis stores

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceAccountKey:
        where = Path(path)
        try:
            info = json.loads(where.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"service account file {where}: cannot be read ({exc.strerror or type(exc).__name__})"
                             ) from None
        except ValueError:
            raise ValueError(f"service account file {where}: not JSON") from None
        return cls.from_info(info, where=str(where))

    @classmethod
    def from_info(cls, info: Any, *, where: str = "service account key") -> ServiceAccountKey:
        if not isinstance(info, dict):
            raise ValueError(f"{where}: not a key file (a JSON object is expected)")
        missing = [k for k in REQUIRED if not isinstance(info.get(k), str) or not info[k]]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)} (download a new JSON key for the service "
                             "account in the Google Cloud console)")
        if info["type"] != "service_account":
            raise ValueError(f"{where}: type is {info['type']!r}, not 'service_account'")
        try:
            key = load_pem_private_key(info["private_key"].encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError(f"{where}: private_key is not a PEM private key") from None
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{where}: private_key is not an RSA key")
        return cls(client_email=info["client_email"], private_key_id=info["private_key_id"],
                   token_uri=info["token_uri"], project_id=info.get("project_id"), signing_key=key,
                   pem=info["private_key"])

    def assertion(self, scopes: Sequence[str], *, now: int) -> str:
        claims = {"iss": self.client_email, "scope": " ".join(scopes), "aud": self.token_uri,
                  "iat": now, "exp": now + ASSERTION_LIFETIME}
        assert self.signing_key is not None, "built by from_info"
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.private_key_id})
