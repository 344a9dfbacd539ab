"""The policy file (YAML, reviewed in git): parse it with line numbers, check it against the schema, write it.

    policy = load_policy("policy.yaml", catalog)   # PolicyError("policy.yaml:12: unknown field Customer.emial")
    text = dump_policy(policy)                      # what `harmonia policy export` writes

The format (``harmonia/auth/demo_policy.yaml`` is a complete example)::

    version: 1
    admins: [admin]                 # read everything in clear; the only users of the admin plane
    default: deny                   # deny | allow | a rule: for types and fields not named below
    types:
      Customer:
        read: [marketer, analyst, {roles: [support], scopes: [crm:read]}]   # any of these
        fields:
          email: {mask: email, clear: [marketer]}    # analysts read it masked
          phone: {read: [marketer], mask: phone, hidden: true}   # others: as if it did not exist
      Query:
        fields:
          customerByEmail: {searches: {email: Customer.email}}   # only for who reads emails in clear

A rule is ``"*"`` (any authenticated principal) or a list of alternatives, any one of which is
enough; an alternative is a role name or ``{roles: [...], scopes: [...]}``, all of which are needed.
Masks: ``email`` (``a***@example.com``), ``phone`` (last four digits), ``redact`` (null).
``hidden: true`` (on a field, or on a type for all its fields and its Relay wrappers): who may not read
it gets a validation error, as for a field that does not exist, instead of null with FORBIDDEN naming
the roles that would do. ``searches`` maps an argument of the field (or a dotted path into an input
object argument, ``filter.email``) to the ``Type.field`` it finds records by: the lookup is allowed only
to principals who read that field in clear (``Query.customerByEmail(email:)`` always is one).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harmonia.auth.policy import ADMIN_PLANE_FIELDS, ADMIN_PLANE_TYPES, DEMO_SOURCE, Policy
from harmonia.auth.rules import EVERYONE, MASKS, NOBODY, FieldRule, FieldShape, Lookup, Requirement, Rule, TypeRule

Catalog = Mapping[str, Mapping[str, FieldShape]]


class PolicyError(ValueError):
    """An invalid policy: the message names the file, the line and the reason."""


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node | None, reason: str) -> PolicyError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return PolicyError(f"{self.source}{line}: {reason}")

    def mapping(self, node: Node, what: str, allowed: tuple[str, ...] | None = None) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = self.scalar(key, f"a key of {what}")
            if name in out:
                raise self.fail(key, f"{name!r} appears twice in {what}")
            if allowed is not None and name not in allowed:
                raise self.fail(key, f"unknown key {name!r} in {what} (expected one of: {', '.join(allowed)})")
            out[name] = (key, value)
        return out

    def scalar(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str) or not node.value.strip():
            raise self.fail(node, f"{what} must be a non-empty string")
        return node.value.strip()

    def names(self, node: Node, what: str) -> list[str]:
        if isinstance(node, ScalarNode):
            return [self.scalar(node, what)]
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list of names")
        return [self.scalar(item, f"an entry of {what}") for item in node.value]

    def rule(self, node: Node, what: str) -> Rule:
        if isinstance(node, ScalarNode):
            value = self.scalar(node, what)
            if value == "*":
                return EVERYONE
            if value == "nobody":
                return NOBODY
            return Rule.roles(value)
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be \"*\", a role name or a list of alternatives")
        return Rule.of(*(self.requirement(item, what) for item in node.value))

    def requirement(self, node: Node, what: str) -> Requirement:
        if isinstance(node, ScalarNode):
            value = self.scalar(node, f"an alternative of {what}")
            return Requirement() if value == "*" else Requirement.of(roles=[value])
        entries = self.mapping(node, f"an alternative of {what}", ("roles", "scopes"))
        roles = self.names(entries["roles"][1], "roles") if "roles" in entries else []
        scopes = self.names(entries["scopes"][1], "scopes") if "scopes" in entries else []
        if not roles and not scopes:
            raise self.fail(node, f"an alternative of {what} names no role and no scope (use \"*\" for anyone)")
        return Requirement.of(roles, scopes)

    def flag(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.value not in ("true", "false"):
            raise self.fail(node, f"{what} must be true or false")
        return bool(node.value == "true")


class _Marks:
    """What a file says besides rules: hidden fields and types, lookups."""

    def __init__(self) -> None:
        self.hidden: set[tuple[str, str]] = set()
        self.hidden_types: set[str] = set()
        self.lookups: dict[tuple[str, str], tuple[Lookup, ...]] = {}


def parse_policy(text: str, source: str, catalog: Catalog | None = None) -> Policy:
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "not valid YAML"
        raise PolicyError(f"{source}{line}: not valid YAML ({reason})") from None
    if root is None:
        raise PolicyError(f"{source}: the policy file is empty")
    top = reader.mapping(root, "the policy", ("version", "admins", "default", "types"))
    if "version" in top and reader.scalar(top["version"][1], "version") != "1":
        raise reader.fail(top["version"][1], "only version 1 of the policy format exists")
    admins = frozenset(reader.names(top["admins"][1], "admins")) if "admins" in top else frozenset()
    default = NOBODY
    if "default" in top:
        node = top["default"][1]
        value = node.value if isinstance(node, ScalarNode) else None
        default = NOBODY if value == "deny" else EVERYONE if value == "allow" else reader.rule(node, "default")
    types: dict[str, TypeRule] = {}
    marks = _Marks()
    if "types" in top:
        for type_name, (key, node) in reader.mapping(top["types"][1], "types").items():
            types[type_name] = _type_rule(reader, type_name, key, node, catalog, marks)
    return Policy(admins=admins, default=default, types=types, source=source, hidden=frozenset(marks.hidden),
                  hidden_types=frozenset(marks.hidden_types), lookups=marks.lookups)


def _type_rule(reader: _Reader, type_name: str, key: Node, node: Node, catalog: Catalog | None,
               marks: _Marks) -> TypeRule:
    if type_name in ADMIN_PLANE_TYPES:
        raise reader.fail(key, f"{type_name} is the admin plane: only admins use it, no policy can change that")
    if catalog is not None and type_name not in catalog:
        raise reader.fail(key, f"unknown type {type_name!r}")
    entries = reader.mapping(node, f"type {type_name}", ("read", "fields", "hidden"))
    read = reader.rule(entries["read"][1], f"{type_name}.read") if "read" in entries else None
    if "hidden" in entries and reader.flag(entries["hidden"][1], f"{type_name}.hidden"):
        marks.hidden_types.add(type_name)
    fields: list[tuple[str, FieldRule]] = []
    if "fields" in entries:
        for field_name, (fkey, fnode) in reader.mapping(entries["fields"][1], f"{type_name}.fields").items():
            if (type_name, field_name) in ADMIN_PLANE_FIELDS:
                raise reader.fail(fkey, f"{type_name}.{field_name} is the admin plane: only admins use it")
            shape = None
            if catalog is not None:
                shape = catalog[type_name].get(field_name)
                if shape is None:
                    raise reader.fail(fkey, f"unknown field {type_name}.{field_name}")
            rule = _field_rule(reader, f"{type_name}.{field_name}", fnode, shape)
            if rule != FieldRule():
                fields.append((field_name, rule))
            _field_marks(reader, (type_name, field_name), fnode, shape, catalog, marks)
    return TypeRule(read=read, fields=tuple(fields))


def _field_marks(reader: _Reader, coordinate: tuple[str, str], node: Node, shape: FieldShape | None,
                 catalog: Catalog | None, marks: _Marks) -> None:
    """A field's ``hidden`` and ``searches`` (its rule's keys are ``_field_rule``'s)."""
    where = ".".join(coordinate)
    entries = reader.mapping(node, where)
    if "hidden" in entries and reader.flag(entries["hidden"][1], f"{where}.hidden"):
        marks.hidden.add(coordinate)
    if "searches" in entries:
        marks.lookups[coordinate] = _lookups(reader, where, entries["searches"][1], shape, catalog)


def _lookups(reader: _Reader, where: str, node: Node, shape: FieldShape | None,
             catalog: Catalog | None) -> tuple[Lookup, ...]:
    """``searches: {argument: Type.field}``: which argument finds records by which field."""
    lookups = []
    for argument, (akey, target_node) in reader.mapping(node, f"{where}.searches").items():
        if shape is not None and argument not in shape.arguments:
            raise reader.fail(akey, f"{where} has no argument {argument!r}")
        target = reader.scalar(target_node, f"{where}.searches.{argument}")
        type_name, dot, field_name = target.partition(".")
        if not dot or not field_name:
            raise reader.fail(target_node, f"{where}.searches.{argument} must name a field as Type.field")
        if catalog is not None and field_name not in catalog.get(type_name, {}):
            raise reader.fail(target_node, f"unknown field {target}")
        lookups.append(Lookup(argument, type_name, field_name))
    return tuple(lookups)


def _field_rule(reader: _Reader, where: str, node: Node, shape: FieldShape | None) -> FieldRule:
    entries = reader.mapping(node, where, ("read", "mask", "clear", "hidden", "searches"))
    read = reader.rule(entries["read"][1], f"{where}.read") if "read" in entries else None
    mask = None
    if "mask" in entries:
        mask_node = entries["mask"][1]
        mask = reader.scalar(mask_node, f"{where}.mask")
        problem = mask_problem(mask, shape)
        if problem:
            raise reader.fail(mask_node, f"{where}: {problem}")
    clear = None
    if "clear" in entries:
        if mask is None:
            raise reader.fail(entries["clear"][0], f"{where}: 'clear' says who reads a masked field in clear, "
                                                  "but the field has no mask")
        clear = reader.rule(entries["clear"][1], f"{where}.clear")
    return FieldRule(read=read, mask=mask, clear=clear)


def mask_problem(mask: str, shape: FieldShape | None) -> str | None:
    """Why ``mask`` cannot apply to a field of this shape (None: it can)."""
    if mask not in MASKS:
        return f"unknown mask {mask!r} (expected one of: {', '.join(MASKS)})"
    if shape is None:
        return None
    if not shape.leaf:
        return f"a mask applies to a scalar field, not to {shape.type_name}"
    if mask in ("email", "phone") and not shape.string:
        return f"the {mask} mask needs a String field, not {shape.type_name}"
    if mask == "redact" and not shape.nullable:
        return f"redact turns the value into null, but the field is non-null ({shape.type_name}!)"
    return None


def load_policy(path: str | Path | None, catalog: Catalog | None = None) -> Policy:
    """The policy file at ``path`` (None: the built-in demo policy), checked against ``catalog``."""
    if path is None:
        text, source = demo_policy_text(), DEMO_SOURCE
    else:
        file = Path(path)
        if not file.is_file():
            raise PolicyError(f"{file}: the policy file does not exist")
        text, source = file.read_text(encoding="utf-8"), str(file)
    return parse_policy(text, source, catalog)


def demo_policy_text() -> str:
    return files("harmonia.auth").joinpath("demo_policy.yaml").read_text(encoding="utf-8")


def dump_policy(policy: Policy) -> str:
    header = f"# Harmonia field policy: {policy.source}, overlay version {policy.version}\n"
    data: dict[str, Any] = policy.to_data()
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)


# The shipped default (used when no policy file is configured); create_app re-checks it against the schema.
DEMO_POLICY = parse_policy(demo_policy_text(), DEMO_SOURCE)
