"""The FastAPI app of a service process, the same for all: runtime in the lifespan, health, problems, telemetry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .observability import instrument_app
from .problems import install_problem_handlers
from .runtime import ServiceRuntime, health_router
from .telemetry import configure_telemetry

Hook = Callable[[], Awaitable[None]]


def service_app(
    *, name: str, runtime: ServiceRuntime, before_start: Sequence[Hook] = (), before_stop: Sequence[Hook] = (),
    version: str = "1", api_docs: bool = False, metrics_public: bool = True, metrics_token: str | None = None,
) -> FastAPI:
    """An app whose lifespan starts `runtime` (after `before_start`) and stops it (after `before_stop`).

    `/docs`, `/redoc` and `/openapi.json` only with `api_docs`. `/metrics` is open with `metrics_public` (a service
    that only NATS and the cluster reach), else it needs `metrics_token` as a bearer token, else it is not served.

    Migrations are not run here: they are an init step (`assist migrate`, the Kubernetes Job), never every
    replica's start.
    """
    configure_telemetry(service_name=f"assist-{name}", settings=runtime.settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for hook in before_start:
            await hook()
        await runtime.start()
        try:
            yield
        finally:
            for hook in before_stop:
                await hook()
            await runtime.stop()

    docs = {} if api_docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title=f"assist {name}", version=version, lifespan=lifespan, **docs)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(lambda: runtime))
    instrument_app(app, lambda: runtime, public=metrics_public, token=metrics_token)
    return app
