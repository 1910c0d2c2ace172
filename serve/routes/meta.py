from __future__ import annotations

from importlib.metadata import version as package_version

from fastapi import APIRouter, Response, status

from serve.deps import KEYED_ERRORS, HolderDep, ModelsAccess, ServingDep
from serve.schemas import Health, VersionOut

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, response_model_exclude_none=True,
            responses={503: {"model": Health, "description": "No model is being served, and why."}})
async def health(holder: HolderDep, response: Response) -> Health:
    """Whether the service is up with its champion loaded, which version it serves, and if not, why
    (no key needed). A 503 only when no model is served at all: with a previous version still
    served, scoring goes on and the status says what is wrong."""
    serving = holder.current
    if serving is None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    version = None if serving is None else serving.model.version
    if holder.problem is not None:
        return Health(status="unhealthy", model_version=version, reason=holder.problem)
    return Health(status="ok", model_version=version)


@router.get("/version", response_model=VersionOut, responses=KEYED_ERRORS)
def version(_: ModelsAccess, serving: ServingDep) -> VersionOut:
    """The service's version, the model it serves and the dates of its data."""
    return VersionOut(service_version=package_version("risk-model"), model=serving.model, as_of=serving.as_of,
                      data_extract_date=serving.data.extract_date)
