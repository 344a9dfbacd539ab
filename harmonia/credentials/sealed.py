"""Tokens sealed before they go to Redis: AES-GCM under a key derived from the credential's own secret.

    seal = Sealer(client_secret, context="hubspot:3f2a...")
    blob = seal.seal("CJSP5qf1...")     # base64 text, safe to store
    seal.open(blob)                     # the token, or None when it was sealed under another secret

Redis holds every instance's current access token and the latest refresh token. Sealed, a copy of
Redis (a dump, a replica, a ``MONITOR``) yields nothing usable without the client secret or private
key that only the gateway's configuration has; a rotated client secret makes old entries unreadable,
which reads as "nothing stored".
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class Sealer:
    def __init__(self, secret: str, *, context: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"harmonia credential store|{context}".encode()).derive(secret.encode())
        self._aead = AESGCM(key)
        self._context = context.encode()

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self._context)
        return base64.b64encode(nonce + sealed).decode()

    def open(self, blob: str | bytes | None) -> str | None:
        if not blob:
            return None
        try:
            raw = base64.b64decode(blob, validate=True)
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._context).decode()
        except (InvalidTag, ValueError, binascii.Error):
            return None
