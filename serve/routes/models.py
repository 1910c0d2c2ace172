from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from serve.deps import KEYED_ERRORS, DatabaseDep, HolderDep, ModelsAccess, ReloadAccess, ServingDep, SettingsDep
from serve.internal.registry import ChampionUnavailable, registered_versions
from serve.schemas import ModelsOut, ReloadOut

router = APIRouter(prefix="/models", tags=["models"], responses=KEYED_ERRORS)


@router.get("", response_model=ModelsOut)
def models(_: ModelsAccess, settings: SettingsDep, serving: ServingDep) -> ModelsOut:
    """Every registered version, which one is champion, which one is served, and their metrics."""
    return registered_versions(settings, serving.model.version)


@router.post("/reload", response_model=ReloadOut)
def reload(holder: HolderDep, db: DatabaseDep, settings: SettingsDep, _: ReloadAccess) -> ReloadOut:
    """Serve the version now registered as champion; requests in flight finish on the old one."""
    try:
        return holder.reload(db, settings)
    except ChampionUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{exc}; still serving the previous version") from exc
