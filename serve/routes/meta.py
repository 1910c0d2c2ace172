from __future__ import annotations

import contextlib
from importlib.metadata import version as package_version

from fastapi import APIRouter, Response, status

from serve.deps import KEYED_ERRORS, HolderDep, ModelsAccess, ServingDep, SettingsDep
from serve.internal.follow import check_alias_unless_recent
from serve.schemas import Health, HealthDetail, VersionOut

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health,
            responses={503: {"model": Health, "description": "No model is being served."}})
async def health(holder: HolderDep, response: Response) -> Health:
    """Whether the service is up with its champion loaded (no key needed, so no more than that: which
    version and why not are in /health/detail). A 503 only when no model is served at all: with a
    previous version still served, scoring goes on and the status says something is wrong."""
    if holder.current is None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status=status_of(holder))


def status_of(holder) -> str:
    """unhealthy (a champion that cannot be loaded), stale (the registry's alias, when last read, named
    another version than the one served: /version says which), or ok."""
    return "unhealthy" if holder.problem is not None else "stale" if holder.stale else "ok"


@router.get("/health/detail", response_model=HealthDetail, response_model_exclude_none=True, responses=KEYED_ERRORS)
async def health_detail(_: ModelsAccess, holder: HolderDep) -> HealthDetail:
    """The health, with the version served and, when unhealthy, why (e.g. a champion that cannot be
    loaded). Answered even while no model is served."""
    serving = holder.current
    return HealthDetail(status=status_of(holder),
                        model_version=None if serving is None else serving.model.version, reason=holder.problem)


@router.get("/version", response_model=VersionOut, responses=KEYED_ERRORS)
def version(_: ModelsAccess, serving: ServingDep, holder: HolderDep, settings: SettingsDep) -> VersionOut:
    """The service's version, the model it serves, the dates of its data, and whether the registry's
    champion is still the version served (the registry is read now, unless it was a moment ago; if it
    cannot be, what was read last: `registry_checked_at` says when)."""
    with contextlib.suppress(Exception):
        check_alias_unless_recent(holder, settings)
    return VersionOut(service_version=package_version("risk-model"), model=serving.model, as_of=serving.as_of,
                      data_extract_date=serving.data.extract_date, registry_champion_version=holder.registry_version,
                      stale=holder.stale, registry_checked_at=holder.registry_checked_at)
