"""Google Ads ``CampaignService.MutateCampaigns`` over REST: campaign status updates.

    POST /googleads/v26/customers/1234567890/campaigns:mutate
         {"operations": [{"update": {"resourceName": "customers/1234567890/campaigns/148", "status": "PAUSED"},
                          "updateMask": "status"}],
          "responseContentType": "MUTABLE_RESOURCE"}
    200  {"results": [{"resourceName": "customers/1234567890/campaigns/148",
                       "campaign": {"resourceName": "...", "id": "148", "name": "...", "status": "PAUSED"}}]}

Only ``update`` operations on ``status`` (and ``name``) are simulated. As the API does: the batch is
atomic unless ``partialFailure`` (not simulated: refused), ``validateOnly`` checks without writing,
an unknown campaign is ``mutateError: RESOURCE_NOT_FOUND``, a removed one
``operationAccessDeniedError: OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE``, and status
``REMOVED`` goes through a ``remove`` operation, never an update (``fieldError: INVALID_VALUE``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState

SETTABLE_STATUSES = frozenset({"ENABLED", "PAUSED"})
UPDATABLE = frozenset({"status", "name"})

Admit = Callable[[str, str, Request, str], "Response | None"]


def _error(code: dict[str, str], message: str, index: int, field: str | None = None) -> dict[str, Any]:
    path = [{"fieldName": "operations", "index": index}, {"fieldName": "update"}]
    if field:
        path.append({"fieldName": field})
    return {"errorCode": code, "message": message, "location": {"fieldPathElements": path}}


def add_write_routes(router: APIRouter, state: SimulatorState, admit: Admit) -> None:
    from harmonia.simulators.googleads import envelope, request_id  # the read module imports this one

    @router.post("/{version}/customers/{customer_id}/campaigns:mutate")
    async def mutate_campaigns(version: str, customer_id: str, request: Request) -> Response:
        rid = request_id()
        if (refusal := admit(version, customer_id, request, rid)) is not None:
            return refusal
        try:
            body = await request.json()
            operations = body["operations"]
            if not isinstance(operations, list) or not operations:
                raise TypeError("operations must be a non-empty list")
        except (ValueError, KeyError, TypeError):
            return envelope(400, "Invalid JSON payload received.", rid=rid)
        if body.get("partialFailure"):
            return envelope(400, errors=[{"errorCode": {"requestError": "UNKNOWN"},
                                          "message": "partialFailure is not simulated."}], version=version, rid=rid)
        by_id = {c["id"]: c for c in state.world.ads_campaigns}
        errors: list[dict[str, Any]] = []
        planned: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for i, operation in enumerate(operations):
            update = operation.get("update") if isinstance(operation, dict) else None
            mask = [f.strip() for f in str(operation.get("updateMask") or "").split(",") if f.strip()] \
                if isinstance(operation, dict) else []
            if not isinstance(update, dict) or not mask:
                errors.append(_error({"mutateError": "UNKNOWN"}, "Only update operations with an updateMask "
                                     "are simulated.", i))
                continue
            name = str(update.get("resourceName") or "")
            prefix = f"customers/{customer_id}/campaigns/"
            campaign = by_id.get(name[len(prefix):]) if name.startswith(prefix) else None
            if campaign is None:
                errors.append(_error({"mutateError": "RESOURCE_NOT_FOUND"}, "Resource was not found.", i,
                                     "resource_name"))
                continue
            if campaign["status"] == "REMOVED":
                errors.append(_error({"operationAccessDeniedError": "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE"},
                                     "Operation is not permitted for removed resources.", i))
                continue
            bad = [f for f in mask if f not in UPDATABLE]
            if bad or ("status" in mask and update.get("status") not in SETTABLE_STATUSES):
                errors.append(_error({"fieldError": "INVALID_VALUE"}, "The field's value is invalid.", i,
                                     bad[0] if bad else "status"))
                continue
            planned.append((campaign, {f: update.get(f) for f in mask}))
        if errors:
            return envelope(400, errors=errors, version=version, rid=rid)
        results = []
        for campaign, changes in planned:
            if not body.get("validateOnly"):
                campaign.update(changes)
            result: dict[str, Any] = {"resourceName": f"customers/{customer_id}/campaigns/{campaign['id']}"}
            if body.get("responseContentType") == "MUTABLE_RESOURCE":
                result["campaign"] = {"resourceName": result["resourceName"], "id": campaign["id"],
                                      "name": campaign["name"], "status": campaign["status"],
                                      "advertisingChannelType": campaign.get("advertisingChannelType", "SEARCH")}
            results.append(result)
        return JSONResponse({"results": results}, headers={"request-id": rid})
