"""``riskgraph serve``: the online scorer over HTTP (FastAPI).

Endpoints (OpenAPI schema at ``/openapi.json``, pages at ``/docs``):

``POST /v1/score``
    Body ``{"tables": {"users": [...], "applications": [...], ...}, "record": false}``,
    the input contract's tables as lists of rows; answers ``{"scores": [...]}``, one
    row per ``users`` row (:meth:`riskgraph.FeatureProvider.score`).
``GET /v1/users/{user_id}``
    Last night's answer for a user of the run: scores row, reasons, risky links.
``GET /healthz``
    ``{"status": "ok", ...}`` when Neo4j answers, else 503 (no token needed).

Every ``/v1`` call needs ``Authorization: Bearer <token>`` (the token of
``$RISKGRAPH_API_TOKEN`` or the config file's ``[serve] token_file``): 401 without
it. Input that breaks the contract gets 422 naming the table, row and column (or the
JSON field); Neo4j down gets 503 with a one-line reason; no answer carries a
traceback. One JSON line per request goes to the ``riskgraph.access`` logger.
"""

import hmac
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from riskgraph.errors import (
    ConfigError,
    InputError,
    Neo4jError,
    Neo4jUnavailableError,
    ProviderError,
)
from riskgraph.provider import FeatureProvider

__all__ = ["ENV_API_TOKEN", "create_app", "resolve_api_token"]

ENV_API_TOKEN = "RISKGRAPH_API_TOKEN"
#: Shortest accepted API token: a guessable one would protect nothing.
MIN_TOKEN_LENGTH = 16

access_log = logging.getLogger("riskgraph.access")
log = logging.getLogger("riskgraph.serve")


class ScoreRequest(BaseModel):
    """Body of ``POST /v1/score``."""

    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Input-contract tables as lists of rows: users (required), "
        "user_devices, user_accounts, social, applications."
    )
    record: bool = Field(False, description="Write the applicants into Neo4j.")


class ScoreResponse(BaseModel):
    """Answer of ``POST /v1/score``: one row per ``users`` row."""

    scores: list[dict[str, Any]]


def resolve_api_token(config: dict[str, Any] | None = None) -> str:
    """The bearer token: ``$RISKGRAPH_API_TOKEN``, else ``[serve] token_file``.

    Raises
    ------
    ConfigError
        When neither is set, the file is unreadable or readable by others, or the
        token is shorter than :data:`MIN_TOKEN_LENGTH` characters.
    """
    token = os.environ.get(ENV_API_TOKEN)
    source = ENV_API_TOKEN
    if not token:
        path_value = ((config or {}).get("serve") or {}).get("token_file")
        if not path_value:
            raise ConfigError(
                f"no API token: set {ENV_API_TOKEN} or [serve] token_file in the config file "
                "(the service refuses to run open)"
            )
        path = Path(path_value)
        source = f"[serve] token_file {path}"
        try:
            mode = path.stat().st_mode & 0o777
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{source} cannot be read: {exc.strerror}") from exc
        if mode & 0o077:
            raise ConfigError(f"{source} is readable by others (mode {mode:o}); chmod 600 it")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{source}: the API token is shorter than {MIN_TOKEN_LENGTH} characters")
    return token


def create_app(provider: FeatureProvider, token: str) -> FastAPI:
    """The FastAPI application serving ``provider``.

    Parameters
    ----------
    provider : FeatureProvider
        Answers both the online scores and last night's.
    token : str
        The bearer token every ``/v1`` call must carry.
    """
    app = FastAPI(
        title="riskgraph",
        summary="Graph risk scores of credit applicants, online and from the nightly run.",
        version=_version(),
    )
    bearer = HTTPBearer(auto_error=False)

    def authorized(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.middleware("http")
    async def log_access(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        access_log.info(
            json.dumps(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - start) * 1000, 2),
                    "client": request.client.host if request.client else None,
                }
            )
        )
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _one_line(exc)})

    @app.exception_handler(Neo4jError)
    async def neo4j_down(request: Request, exc: Neo4jError) -> JSONResponse:
        status = 503 if isinstance(exc, Neo4jUnavailableError) else 502
        return JSONResponse(status_code=status, content={"detail": _one_line(exc)})

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("a bug: please report it", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error (logged)"})

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        dependencies=[Depends(authorized)],
        responses={401: {}, 422: {}, 503: {}},
    )
    def score(body: ScoreRequest) -> dict[str, Any]:
        """Score applicants against the live graph (the input contract's tables)."""
        tables = {name: pd.DataFrame(rows) for name, rows in body.tables.items()}
        scores = provider.score(tables, record=body.record)
        return {"scores": _records(scores)}

    @app.get("/v1/users/{user_id}", dependencies=[Depends(authorized)], responses={404: {}})
    def user(user_id: str) -> dict[str, Any]:
        """Last night's answer for one user of the run."""
        try:
            row = provider.scores([user_id])
        except ProviderError as exc:
            raise HTTPException(status_code=404, detail=_one_line(exc)) from None
        answer = _records(row.reset_index())[0]
        answer["risky_links"] = _records(provider.associations(user_id))
        answer["run_date"] = str(provider.run_date)
        return answer

    @app.get("/healthz", response_model=None, responses={503: {}})
    def healthz() -> JSONResponse:
        """Ready when the run is open and Neo4j answers."""
        try:
            scorer = provider.online_scorer()
            scorer.driver.verify_connectivity()
        except Exception as exc:
            return JSONResponse(
                status_code=503, content={"status": "down", "detail": _one_line(exc)}
            )
        return JSONResponse(
            content={
                "status": "ok",
                "run_date": str(provider.run_date),
                "model_version": scorer.model_version,
            }
        )

    return app


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: missing values as null, timestamps as ISO-8601."""
    out = []
    for row in frame.astype(object).to_dict(orient="records"):
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _version() -> str:
    from riskgraph import __version__

    return __version__
