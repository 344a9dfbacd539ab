"""Fill a declaration's templates: ``{version}``, ``{settings.<name>}``, and a call's own variables.

    render("/{version}/{settings.ad_account_id}/campaigns", values, "v25.0")   # "/v25.0/act_1/campaigns"
    render('any(email,{keys_json})', values, "", keys=["a@b.c"])              # 'any(email,["a@b.c"])'

Only ``{name}`` and ``{settings.name}`` of lower-case letters are variables, so JSON in a parameter
(``{"since":"{start}"}``) is left as written. Settings are the declaration's ``settings`` read from
``HARMONIA_SOURCES__<SOURCE>__<KEY>`` (or the config file), else their declared default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from harmonia.sources.declared.model import TEMPLATE, Declaration


class MissingSetting(ValueError):
    """A setting the declaration needs has no value: the message names the variable to set."""


def setting_values(declaration: Declaration, configured: Mapping[str, Any] | None) -> dict[str, str]:
    """Each setting's value: configured (environment or file), else its default."""
    given = {str(k).lower(): v for k, v in (configured or {}).items()}
    values: dict[str, str] = {}
    for name, setting in declaration.settings.items():
        value = given.get(name.lower(), setting.default)
        if value is not None:
            values[name] = str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)
    return values


def require(declaration: Declaration, values: Mapping[str, str]) -> None:
    """Every setting without a value, named as the variable to set (raised at startup, not per call)."""
    missing = [name for name in declaration.settings if name not in values]
    if missing:
        names = ", ".join(f"HARMONIA_SOURCES__{declaration.name.upper()}__{m.upper()}" for m in missing)
        raise MissingSetting(f"declared source {declaration.name}: set {names}")


def render(template: str, values: Mapping[str, str], version: str, *, keys: Sequence[str] = (),
           **variables: str) -> str:
    def fill(match: Any) -> str:
        name: str = match.group(1)
        if name.startswith("settings."):
            return values.get(name[9:], "")
        if name == "version":
            return version
        if name == "keys":
            return ",".join(keys)
        if name == "keys_json":
            return json.dumps(list(keys), ensure_ascii=False, separators=(",", ":"))
        return str(variables.get(name, match.group(0)))

    return TEMPLATE.sub(fill, template) if "{" in template else template
