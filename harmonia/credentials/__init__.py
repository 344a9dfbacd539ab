"""How a source gets its current access token: pasted, or renewed by an OAuth 2.0 grant.

    credential = credential_for("hubspot", settings.sources.hubspot, redis_client=redis)
    token = await credential.token()                    # AccessToken, renewed before it expires
    headers = credential.headers_for(token)             # {"Authorization": "Bearer ..."}
    await credential.rejected(token)                    # after a 401: renew once (SourceHttp retries)

    Credential (protocol)
    ├── StaticCredential        HARMONIA_SOURCES__<S>__TOKEN, never renewed
    └── RenewingCredential      a Grant, a TokenEndpoint, a TokenStore
        grants: RefreshTokenGrant (Google, HubSpot, Shopify expiring offline tokens; rotation kept)
                ClientCredentialsGrant (Shopify Dev Dashboard apps)
                JwtBearerGrant (a Google service-account key file)
        stores: RedisTokenStore (shared by every instance, sealed, with the renewal lock)
                MemoryTokenStore (one process, no Redis configured)

Below ``harmonia.sources`` (connectors ask it for a header) and above Redis; it imports nothing from
the schema, resolvers or HTTP layers. No secret, token or key ever goes into a repr or a log line.
"""

from harmonia.credentials.build import credential_for
from harmonia.credentials.credential import AuthHeader, Credential, StaticCredential
from harmonia.credentials.renewing import RenewingCredential
from harmonia.credentials.token import AccessToken

__all__ = ["AccessToken", "AuthHeader", "Credential", "RenewingCredential", "StaticCredential", "credential_for"]
