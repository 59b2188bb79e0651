"""HTTP in and out. Routers parse, call one service function, and return a schema."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


class JSONBytesResponse(Response):
    """JSON already serialized by the service (e.g. a search page); sent as it is."""

    media_type = "application/json"


class ModelJSONResponse(Response):
    """A response model serialized once, by pydantic-core, straight to JSON bytes.

    Returning the model itself makes FastAPI validate it again against the response model and
    re-encode it with `json.dumps`; for list pages that doubles our own time per request. The
    route still declares `response_model`, so the OpenAPI document is unchanged.
    """

    media_type = "application/json"

    def __init__(
        self, model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(model.model_dump_json(), status_code=status_code, headers=headers)
