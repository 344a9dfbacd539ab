"""The principal's policy fingerprint: equal fingerprints see exactly the same answers.

    policy_fingerprint(Principal("ana", roles=frozenset({"analyst"})))           -> '[["analyst"],[],0]'
    policy_fingerprint(principal, store.current)     # under the effective policy's current version

What may be read, and what is masked, is a function of the token's role set and scopes (the policy
is decided per role set and scopes, ``Policy.access_for``) under one version of the effective
policy: the policy file plus the admins' runtime overlays, whose every change bumps the version.
Everything that shares answers between principals (the response cache) keys them by this one
function, so a richer policy (per-user grants, attributes) changes only this.
"""

from __future__ import annotations

import orjson

from harmonia.auth.policy import Policy
from harmonia.auth.principal import Principal


def policy_fingerprint(principal: Principal, policy: Policy | None = None) -> str:
    # JSON, not a joined string: a role named "a,b" must not read as the roles a and b.
    version = policy.version if policy is not None else 0
    return orjson.dumps([sorted(principal.roles), sorted(principal.scopes), version]).decode()
