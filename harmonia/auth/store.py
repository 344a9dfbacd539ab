"""Where the gateway reads the effective policy from: the file's policy plus the admins' overlays.

    store = PolicyStore(load_policy(path, catalog))
    store.current.access_for(principal.roles, principal.scopes)
"""

from __future__ import annotations

from harmonia.auth.policy import Policy


class PolicyStore:
    def __init__(self, base: Policy) -> None:
        self.base = base
        self.current = base
