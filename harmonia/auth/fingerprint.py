"""The principal's policy fingerprint: equal fingerprints see exactly the same answers.

    policy_fingerprint(Principal("ana", roles=frozenset({"analyst"})))   -> '[["analyst"],[]]'

What may be read, and what is masked, is today a function of the token's role set (the policy is
decided per role set, ``Policy.access_for``), plus its scopes for the privacy reads. Everything
that shares answers between principals (the response cache) keys them by this one function, so
a richer policy (per-user grants, attributes) changes only this.
"""

from __future__ import annotations

import orjson

from harmonia.auth.principal import Principal


def policy_fingerprint(principal: Principal) -> str:
    # JSON, not a joined string: a role named "a,b" must not read as the roles a and b.
    return orjson.dumps([sorted(principal.roles), sorted(principal.scopes)]).decode()
