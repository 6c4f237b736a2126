"""Reference recommendation service: the FastAPI endpoints Lockstep's pipelines talk to.

Start: python3 -m uvicorn app:app --port 8010   (from this folder)

Test knobs, by environment at start or at run time with POST /_control:
  FASTAPI_FAIL_STATUS / fail_status     answer every request with this status (e.g. 500); 0 = off
  FASTAPI_FAIL_COUNT  / fail_count      only fail the next N requests, then recover (with fail_status)
  FASTAPI_DELAY_SECONDS / delay_seconds sleep this long before answering
  FASTAPI_HEALTHY / healthy             "0"/false makes GET /health answer 503
"""

import asyncio
import logging
import os
from datetime import datetime, timezone
from typing import Dict, List, Optional, Union

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict


class ModelMetadata(BaseModel):
    """What `notify_training_complete` posts: the seed's model metadata."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model_type: str
    training_samples: int
    training_timestamp: str
    model_version: str
    # A real trainer's held-out evaluation: the model's metrics and the baselines' (popularity, random).
    metrics: Optional[Dict[str, float]] = None
    baseline: Optional[Dict[str, Dict[str, float]]] = None


class SyncPackage(BaseModel):
    """What `sync_fastapi` posts: the seed's integration sync package."""

    model_config = ConfigDict(extra="forbid")
    source: str
    table_summary: Dict[str, int]
    sync_timestamp: str
    total_records: int


class Control(BaseModel):
    fail_status: Optional[int] = None
    fail_count: Optional[int] = None
    delay_seconds: Optional[float] = None
    healthy: Optional[bool] = None
    reset: bool = False


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class State:
    def __init__(self) -> None:
        self.fail_status = int(_env_float("FASTAPI_FAIL_STATUS", 0))
        self.fail_count = int(_env_float("FASTAPI_FAIL_COUNT", -1))  # -1: fail every request
        self.delay_seconds = _env_float("FASTAPI_DELAY_SECONDS", 0)
        self.healthy = os.environ.get("FASTAPI_HEALTHY", "1").lower() not in ("0", "false", "no")
        self.received: List[dict] = []
        self.keys: set = set()
        self.requests = 0
        # Every request's W3C `traceparent` (None when it had none), to show a caller's trace arrived.
        self.traces: List[dict] = []


state = State()
app = FastAPI(title="Noblestride recommendation service (reference)")
log = logging.getLogger("uvicorn.error")


@app.middleware("http")
async def record_trace(request: Request, call_next):
    """Logs and keeps each request's `traceparent`, as a traced service would take up its caller's trace."""
    traceparent = request.headers.get("traceparent")
    if request.url.path not in ("/api/received", "/_control"):
        state.traces.append({"method": request.method, "path": request.url.path, "traceparent": traceparent})
        log.info("%s %s traceparent=%s", request.method, request.url.path, traceparent or "-")
    return await call_next(request)


async def _knobs() -> Optional[JSONResponse]:
    """Applies the delay and failure knobs; returns the failure response, if any."""
    state.requests += 1
    if state.delay_seconds > 0:
        await asyncio.sleep(state.delay_seconds)
    if state.fail_status and state.fail_count != 0:
        if state.fail_count > 0:
            state.fail_count -= 1
        return JSONResponse({"detail": "failure injected by /_control"}, status_code=state.fail_status)
    return None


@app.get("/health")
async def health():
    failure = await _knobs()
    if failure is not None:
        return failure
    if not state.healthy:
        return JSONResponse({"status": "unhealthy"}, status_code=503)
    return {"status": "healthy", "service": "fastapi-recommendation", "received": len(state.received)}


@app.post("/api/model/training-complete")
async def training_complete(
    payload: Union[ModelMetadata, SyncPackage],
    idempotency_key: Optional[str] = Header(default=None),
    traceparent: Optional[str] = Header(default=None),
):
    failure = await _knobs()
    if failure is not None:
        return failure
    if idempotency_key is not None and idempotency_key in state.keys:
        return {"status": "accepted", "duplicate": True}
    if idempotency_key is not None:
        state.keys.add(idempotency_key)
    kind = "model_metadata" if isinstance(payload, ModelMetadata) else "sync_package"
    state.received.append({
        "kind": kind,
        "idempotency_key": idempotency_key,
        "traceparent": traceparent,
        "payload": payload.model_dump(exclude_none=True),
        "received_at": datetime.now(timezone.utc).isoformat(),
    })
    return {"status": "accepted", "duplicate": False, "kind": kind}


@app.get("/api/received")
async def received():
    return {"count": len(state.received), "items": state.received, "requests": state.requests, "traces": state.traces}


@app.post("/_control")
async def control(change: Control, request: Request):
    if change.reset:
        state.__init__()
    if change.fail_status is not None:
        state.fail_status = change.fail_status
        state.fail_count = -1
    if change.fail_count is not None:
        state.fail_count = change.fail_count
    if change.delay_seconds is not None:
        state.delay_seconds = change.delay_seconds
    if change.healthy is not None:
        state.healthy = change.healthy
    return {
        "fail_status": state.fail_status,
        "fail_count": state.fail_count,
        "delay_seconds": state.delay_seconds,
        "healthy": state.healthy,
    }
