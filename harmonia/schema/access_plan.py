"""An operation's access plan, and applying it to the result: denied fields null with FORBIDDEN, masks.

    plan = authorize(schema, document, operation, access)     # harmonia.schema.authorize, once
    data, errors = plan.apply(result.data)                     # after execution, at the schema edge

Denied fields were taken out of the document before execution (so nothing was fetched for them);
here they come back as null, in their selection order, with one FORBIDDEN error per place they
would have appeared, naming the path and what would have been enough (``requiredRoles``,
``requiredScopes``, ``missing``). A non-null field that is denied nulls its nearest nullable
parent, as GraphQL's own null propagation would. Masks apply to the data already fetched (and
cached), so one cached record serves every role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode

from harmonia.auth.policy import apply_mask
from harmonia.auth.rules import Decision

# The response key under which the plan asks the executor for __typename where a rule depends on the
# runtime type. Not a GraphQL Name (``#``): no alias a client can write equals it, so nothing a client
# selects can stand in for the runtime type, and stripping it never removes a client's own field.
TYPENAME_KEY = "#typename"


@dataclass(frozen=True, slots=True)
class Step:
    """One field along a response path: its response key, whether it may be null, whether list items may."""

    key: str
    nullable: bool
    items_nullable: bool | None = None  # None: not a list


@dataclass(frozen=True, slots=True)
class Site:
    """A place in the response that the plan acts on: deny (null + FORBIDDEN) or mask."""

    steps: tuple[Step, ...]
    label: str                                  # "Campaign.stats", for messages
    decision: Decision
    types: frozenset[str] | None = None         # only for these runtime types (read from TYPENAME_KEY)
    order: tuple[str, ...] = ()                 # the parent's response keys in selection order
    locations: tuple[dict[str, int], ...] = ()

    @property
    def key(self) -> str:
        return self.steps[-1].key


# (steps to the parent objects, runtime types or None, (response key, mask) of each masked field)
MaskGroup = tuple[tuple[Step, ...], frozenset[str] | None, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class AccessPlan:
    document: DocumentNode                      # what to execute (denied fields taken out)
    denied: list[Site] = field(default_factory=list)
    masked: list[Site] = field(default_factory=list)
    empty: bool = False                         # every root field is denied: nothing to execute
    typename_injected: bool = False
    introspects: bool = False                   # __schema or __type anywhere: run on the role's own schema
    # Masked sites grouped by the objects that hold them (one walk masks every field of a parent).
    mask_groups: list[MaskGroup] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_parent: dict[tuple[tuple[Step, ...], frozenset[str] | None], list[tuple[str, str]]] = {}
        for site in self.masked:
            by_parent.setdefault((site.steps[:-1], site.types), []).append((site.key, site.decision.mask or "redact"))
        self.mask_groups = [(steps, types, tuple(masks)) for (steps, types), masks in by_parent.items()]

    @property
    def trivial(self) -> bool:
        return not self.denied and not self.masked and not self.typename_injected

    def forbidden_errors(self) -> list[dict[str, Any]]:
        """Without executing (``reject_unauthorized``): one error per denied field of the document."""
        return [_error(site, [s.key for s in site.steps]) for site in self.denied]

    def apply(self, data: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if data is None or self.trivial:
            return data, []
        errors: list[dict[str, Any]] = []
        root: dict[str, Any] = {"data": data}
        for parent_steps, types, masks in self.mask_groups:
            _mask_all(data, parent_steps, 0, types, masks)
        reorder: dict[int, tuple[dict[str, Any], tuple[str, ...]]] = {}
        for site in self.denied:
            def deny(parent: dict[str, Any], frames: list[_Frame], path: list[str | int], site: Site = site) -> None:
                errors.append(_error(site, path))
                if site.steps[-1].nullable:
                    parent[site.key] = None
                    reorder[id(parent)] = (parent, site.order)
                else:
                    _propagate_null(frames, root)
            _visit(root["data"], site, deny)
        for parent, order in reorder.values():
            _reorder(parent, order)
        if self.typename_injected and root["data"] is not None:
            _strip_typename(root["data"])
        return root["data"], errors


def _error(site: Site, path: list[str | int]) -> dict[str, Any]:
    searched = site.decision.searched
    message = (f"Not allowed to read {site.label}" if searched is None else
               f"Not allowed to look up {site.label} by {searched}: only for who reads {searched} in clear")
    error: dict[str, Any] = {"message": message}
    if site.locations:
        error["locations"] = list(site.locations)
    error["path"] = path
    error["extensions"] = {"code": "FORBIDDEN", **site.decision.why()}
    return error


@dataclass(slots=True)
class _Frame:
    container: Any          # dict or list holding the value
    key: str | int
    nullable: bool


Visitor = Callable[[dict[str, Any], list["_Frame"], list[str | int]], None]


def _visit(data: dict[str, Any] | None, site: Site, act: Visitor) -> None:
    """Call ``act(parent, frames, path)`` for every object in ``data`` that holds ``site``'s field.

    ``frames`` and ``path`` are built as the walk goes and copied only where the field is found."""
    if data is None:
        return
    steps = site.steps
    last = len(steps) - 1
    frames: list[_Frame] = [_Frame(None, "data", True)]
    path: list[str | int] = []

    def walk(obj: dict[str, Any], depth: int) -> None:
        step = steps[depth]
        if depth == last:
            if site.types is None or obj.get(TYPENAME_KEY) in site.types:
                act(obj, [*frames, _Frame(obj, step.key, step.nullable)], [*path, step.key])
            return
        value = obj.get(step.key)
        if value is None:
            return
        frames.append(_Frame(obj, step.key, step.nullable))
        path.append(step.key)
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    frames.append(_Frame(value, index, bool(step.items_nullable)))
                    path.append(index)
                    walk(item, depth + 1)
                    frames.pop()
                    path.pop()
        elif isinstance(value, dict):
            walk(value, depth + 1)
        frames.pop()
        path.pop()

    walk(data, 0)


def _mask_all(obj: dict[str, Any], steps: tuple[Step, ...], depth: int, types: frozenset[str] | None,
              masks: tuple[tuple[str, str], ...]) -> None:
    """Mask ``masks`` (key, mask) in every object ``steps`` lead to from ``obj``; no path is built."""
    if depth == len(steps):
        if types is None or obj.get(TYPENAME_KEY) in types:
            for key, mask in masks:
                if key in obj:
                    obj[key] = apply_mask(mask, obj[key])
        return
    value = obj.get(steps[depth].key)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _mask_all(item, steps, depth + 1, types, masks)
    elif isinstance(value, dict):
        _mask_all(value, steps, depth + 1, types, masks)


def _propagate_null(frames: list[_Frame], root: dict[str, Any]) -> None:
    """Null the nearest nullable position at or above the denied non-null field."""
    for frame in reversed(frames[1:]):
        if frame.nullable:
            frame.container[frame.key] = None
            return
    root["data"] = None  # nothing nullable up to the root: the whole data is null, as GraphQL says


def _reorder(parent: dict[str, Any], order: tuple[str, ...]) -> None:
    ordered = {k: parent[k] for k in order if k in parent}
    ordered.update((k, v) for k, v in parent.items() if k not in ordered)
    parent.clear()
    parent.update(ordered)


def _strip_typename(value: Any) -> None:
    if isinstance(value, dict):
        value.pop(TYPENAME_KEY, None)
        for child in value.values():
            _strip_typename(child)
    elif isinstance(value, list):
        for child in value:
            _strip_typename(child)
