"""Key naming: one hash tag per group of keys that one command, transaction or Lua script touches.

    tagged("harmonia:pace:", "hubspot:3f2a", "window")     # 'harmonia:pace:{hubspot:3f2a}:window'
    tag_text("a{b}c")                                       # 'a(b)c': a caller's text never moves a key's slot

A Redis Cluster hashes only the text inside the first ``{...}`` of a key when there is one, so keys
sharing a tag share a slot (and a node): MGET, MULTI/EXEC and scripts over them work on a Cluster as
on one server. Tags are chosen as small as the atomicity needs: per account for pacing, per cache kind
for the entity cache, one for the erasure jobs (they are few), one for the policy overlays.
"""

from __future__ import annotations


def tag_text(text: str) -> str:
    """``text`` made safe inside a hash tag (no braces of its own)."""
    return text.replace("{", "(").replace("}", ")")


def tagged(prefix: str, tag: str, *rest: str) -> str:
    """``prefix{tag}:rest...``; the slot of every such key is the slot of ``tag`` alone."""
    tail = "".join(f":{part}" for part in rest)
    return f"{prefix}{{{tag_text(tag)}}}{tail}"
