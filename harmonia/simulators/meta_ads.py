"""Meta Marketing API (Graph API) simulator: an ad account's campaigns and their insights, as Meta sends them.

    app.include_router(build_router(state), prefix="/meta_ads")
    GET /meta_ads/v25.0/act_1234567890/campaigns?fields=id,name,status&limit=25&after=<cursor>
    GET /meta_ads/v25.0/act_1234567890/insights?level=campaign&fields=campaign_id,spend
        &filtering=[{"field":"campaign.id","operator":"IN","value":["120..."]}]&date_preset=maximum

Edges answer ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`` (``next`` only
while more follow); insights numbers are strings (``"impressions": "361324"``, ``"spend": "5339.50"``),
one row per campaign that delivered, none for a campaign that did not. Every answer carries
``X-Business-Use-Case-Usage`` (the share of the account's hourly budget spent); past the budget a call
is refused with HTTP 400 and error code 80004 until the regain time. Auth: ``Authorization: Bearer``
or ``access_token``; a bad token gets Meta's OAuthException (code 190). Facts: docs/declared-sources.md.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import ANALYTICS_DAYS, ANALYTICS_START, SOCIAL_CAMPAIGNS

SOURCE = "meta_ads"
GRAPH = "https://graph.facebook.com"
VERSIONS = ("v23.0", "v24.0", "v25.0")
HOURLY_BUDGET = 300          # calls an hour for the ad account (the fakes' size of a BUC budget)
MAX_LIMIT = 100
CAMPAIGN_FIELDS = ("id", "name", "status", "effective_status", "objective", "created_time", "account_id")
INSIGHT_FIELDS = ("campaign_id", "campaign_name", "account_id", "impressions", "clicks", "reach", "spend",
                  "actions", "date_start", "date_stop", "ctr")
OBJECTIVES = ["OUTCOME_SALES", "OUTCOME_TRAFFIC", "OUTCOME_AWARENESS", "OUTCOME_LEADS", "OUTCOME_ENGAGEMENT"]


@dataclass
class MetaWorld:
    account_id: str
    campaigns: list[dict[str, Any]]
    daily: dict[str, list[dict[str, Any]]]        # campaign id -> rows by day (numbers, not strings yet)


@dataclass
class Budget:
    """The ad account's hourly BUC budget: calls counted in a rolling hour, a block once it is spent."""

    calls: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


def build_meta_world(seed: int, account: str) -> MetaWorld:
    rng = random.Random(seed * 31 + 5)
    campaigns = []
    daily: dict[str, list[dict[str, Any]]] = {}
    for i, name in enumerate(SOCIAL_CAMPAIGNS):
        cid = str(120_210_000_000_000_000 + i * 7919)
        status = "ACTIVE" if i < 5 else rng.choice(["PAUSED", "ARCHIVED"])
        created = date(2025, 9, 1) + timedelta(days=rng.randint(0, 60))
        campaigns.append({"id": cid, "name": name, "status": status,
                          "effective_status": status if status != "ACTIVE" else "ACTIVE",
                          "objective": OBJECTIVES[i % len(OBJECTIVES)], "account_id": account.removeprefix("act_"),
                          "created_time": f"{created.isoformat()}T09:{10 + i:02d}:00-0700"})
        rows = []
        if i != len(SOCIAL_CAMPAIGNS) - 1:  # the last one never delivered: insights have no row for it
            for d in range(ANALYTICS_DAYS):
                impressions = rng.randint(200, 4000)
                clicks = rng.randint(0, impressions // 40)
                rows.append({"day": ANALYTICS_START + timedelta(days=d), "impressions": impressions, "clicks": clicks,
                             "reach": int(impressions * rng.uniform(0.6, 0.9)),
                             "spend": Decimal(rng.randint(300, 9000)) / 100, "purchases": rng.randint(0, 3)})
        daily[cid] = rows
    return MetaWorld(account, campaigns, daily)


def graph_error(status: int, message: str, code: int, subcode: int | None = None, kind: str = "OAuthException",
                transient: bool = False) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": uuid.uuid4().hex[:11]}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return JSONResponse({"error": error}, status_code=status)


def render_error(status: int, message: str) -> Response:
    if status == 429 or status == 400:
        return graph_error(400, "(#80004) There have been too many calls to this ad-account. Wait a bit and try "
                                "again.", 80004, 2446079)
    return graph_error(status, "An unexpected error has occurred. Please retry your request later.", 2,
                       transient=True)


def _usage(world: MetaWorld, budget: Budget, now: float) -> str:
    used = min(100, round(100 * len(budget.calls) / HOURLY_BUDGET))
    regain = max(0, int((budget.blocked_until - now + 59) // 60))
    return json.dumps({world.account_id.removeprefix("act_"): [{
        "type": "ads_management", "call_count": used, "total_cputime": max(1, used // 4),
        "total_time": max(1, used // 4), "estimated_time_to_regain_access": regain}]}, separators=(",", ":"))


def build_router(state: SimulatorState) -> APIRouter:
    account = state.config.credentials["meta_ads_ad_account_id"]
    world = build_meta_world(state.config.seed, account)
    by_id = {c["id"]: c for c in world.campaigns}
    budget = Budget()
    state.throttles[SOURCE] = budget
    router = APIRouter(dependencies=[Depends(state.tracked(SOURCE))])

    def refuse(request: Request) -> Response | None:
        """Meta's checks before any edge answers: the token, the version, the hourly budget."""
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.query_params.get(
            "access_token")
        if token != state.config.credentials["meta_ads_access_token"]:
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)
        if request.path_params.get("version") not in VERSIONS:
            return graph_error(400, "Unknown path components", 2500, kind="OAuthException")
        now = time.monotonic()
        budget.calls = [t for t in budget.calls if now - t < 3600]
        if state.config.rate_limits and now < budget.blocked_until:
            return graph_error(400, "(#80004) There have been too many calls to this ad-account. Wait a bit and "
                                    "try again.", 80004, 2446079)
        budget.calls.append(now)
        if state.config.rate_limits and len(budget.calls) >= HOURLY_BUDGET:
            budget.blocked_until = now + 300
        return None

    def answer(body: dict[str, Any]) -> Response:
        response = JSONResponse(body)
        response.headers["X-Business-Use-Case-Usage"] = _usage(world, budget, time.monotonic())
        return response

    def page(request: Request, rows: list[dict[str, Any]], path: str) -> dict[str, Any]:
        try:
            limit = min(MAX_LIMIT, max(1, int(request.query_params.get("limit", "25"))))
            start = int(_decode(request.query_params["after"])) if "after" in request.query_params else 0
        except ValueError:
            raise _BadParameter("Invalid parameter") from None
        chunk = rows[start:start + limit]
        paging: dict[str, Any] = {"cursors": {"before": _encode(start), "after": _encode(start + len(chunk))}}
        if start + limit < len(rows):
            query = {k: v for k, v in request.query_params.items() if k not in ("after", "access_token")}
            paging["next"] = f"{GRAPH}{path}?{urlencode({**query, 'after': _encode(start + limit)})}"
        return {"data": chunk, "paging": paging}

    @router.get("/{version}/{account_id}/campaigns")
    async def campaigns(request: Request, version: str, account_id: str) -> Response:
        if (problem := refuse(request)) is not None:
            return problem
        if account_id != world.account_id:
            return graph_error(400, f"Unsupported get request. Object with ID '{account_id}' does not exist, "
                                    "cannot be loaded due to missing permissions, or does not support this "
                                    "operation.", 100, 33, kind="GraphMethodException")
        wanted = _fields(request, ("id",), CAMPAIGN_FIELDS)
        rows = [{k: c[k] for k in wanted} for c in world.campaigns]
        try:
            return answer(page(request, rows, f"/{version}/{account_id}/campaigns"))
        except _BadParameter as exc:
            return graph_error(400, str(exc), 100)

    @router.get("/{version}/{account_id}/insights")
    async def insights(request: Request, version: str, account_id: str) -> Response:
        if (problem := refuse(request)) is not None:
            return problem
        if account_id != world.account_id:
            return graph_error(400, f"Unsupported get request. Object with ID '{account_id}' does not exist.",
                               100, 33, kind="GraphMethodException")
        try:
            level = request.query_params.get("level", "account")
            if level != "campaign":
                raise _BadParameter("The fakes serve level=campaign only")
            first, last = _period(request)
            ids = _campaign_filter(request)
            wanted = _fields(request, ("date_start", "date_stop"), INSIGHT_FIELDS)
            rows = []
            for c in world.campaigns:
                if ids is not None and c["id"] not in ids:
                    continue
                row = _insight(c, world.daily[c["id"]], first, last)
                if row is not None:
                    rows.append({k: row[k] for k in wanted if k in row})
            return answer(page(request, rows, f"/{version}/{account_id}/insights"))
        except _BadParameter as exc:
            return graph_error(400, f"(#100) {exc}", 100)

    @router.get("/{version}/{object_id}")
    async def node(request: Request, version: str, object_id: str) -> Response:
        if (problem := refuse(request)) is not None:
            return problem
        campaign = by_id.get(object_id)
        if campaign is None:
            return graph_error(400, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot "
                                    "be loaded due to missing permissions, or does not support this operation.",
                               100, 33, kind="GraphMethodException")
        wanted = _fields(request, ("id",), CAMPAIGN_FIELDS)
        return answer({k: campaign[k] for k in wanted})

    return router


class _BadParameter(ValueError):
    pass


def _encode(offset: int) -> str:
    return f"MTAx{offset:06d}"  # opaque to clients, as Meta's base64 cursors are


def _decode(cursor: str) -> str:
    if not cursor.startswith("MTAx") or not cursor[4:].isdigit():
        raise ValueError("bad cursor")
    return cursor[4:]


def _fields(request: Request, always: tuple[str, ...], known: tuple[str, ...]) -> list[str]:
    asked = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
    unknown = [f for f in asked if f not in known]
    if unknown:
        raise _BadParameter(f"Tried accessing nonexisting field ({unknown[0]})")
    return list(dict.fromkeys([*always, *asked]))


def _period(request: Request) -> tuple[date, date]:
    raw = request.query_params.get("time_range")
    if raw:
        try:
            parsed = json.loads(raw)
            return date.fromisoformat(parsed["since"]), date.fromisoformat(parsed["until"])
        except (ValueError, KeyError, TypeError):
            raise _BadParameter("Invalid parameter time_range") from None
    preset = request.query_params.get("date_preset", "last_30d")
    last = ANALYTICS_START + timedelta(days=ANALYTICS_DAYS - 1)
    if preset == "maximum":
        return ANALYTICS_START, last
    if preset == "last_30d":
        return last - timedelta(days=29), last
    raise _BadParameter(f"Invalid parameter date_preset {preset}")


def _campaign_filter(request: Request) -> set[str] | None:
    raw = request.query_params.get("filtering")
    if not raw:
        return None
    try:
        rules = json.loads(raw)
        wanted: set[str] = set()
        for rule in rules:
            if rule["field"] != "campaign.id" or rule["operator"] != "IN":
                raise _BadParameter("The fakes filter on campaign.id IN only")
            wanted |= {str(v) for v in rule["value"]}
        return wanted
    except (ValueError, KeyError, TypeError):
        raise _BadParameter("Invalid parameter filtering") from None


def _insight(campaign: dict[str, Any], daily: list[dict[str, Any]], first: date, last: date) -> dict[str, Any] | None:
    rows = [r for r in daily if first <= r["day"] <= last]
    if not rows:
        return None
    impressions = sum(r["impressions"] for r in rows)
    clicks = sum(r["clicks"] for r in rows)
    spend = sum((r["spend"] for r in rows), Decimal(0))
    purchases = sum(r["purchases"] for r in rows)
    actions = [{"action_type": "link_click", "value": str(clicks)}]
    if purchases:
        actions.append({"action_type": "purchase", "value": str(purchases)})
    return {"campaign_id": campaign["id"], "campaign_name": campaign["name"], "account_id": campaign["account_id"],
            "impressions": str(impressions), "clicks": str(clicks), "reach": str(sum(r["reach"] for r in rows)),
            "spend": f"{spend:.2f}", "actions": actions, "ctr": f"{100 * clicks / impressions:.6f}",
            "date_start": first.isoformat(), "date_stop": last.isoformat()}
