from __future__ import annotations

from importlib.metadata import version as package_version

from fastapi import APIRouter

from serve.deps import ModelDep, ModelsAccess, ServingDep
from serve.schemas import Health, VersionOut

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(model: ModelDep) -> Health:
    """Whether the service is up with a model loaded (no key needed)."""
    return Health(status="ok", model_version=model.info.version)


@router.get("/version", response_model=VersionOut)
def version(serving: ServingDep, _: ModelsAccess) -> VersionOut:
    """The service's version, the model it serves and the dates of its data."""
    return VersionOut(service_version=package_version("risk-model"), model=serving.model, as_of=serving.as_of,
                      data_extract_date=serving.data.extract_date)
