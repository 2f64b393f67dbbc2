"""The gateway process: the public HTTP API at /api/v1, the relay's WebSockets, and their runtime."""

from __future__ import annotations

import functools
import logging

from assist_platform.app import service_app
from assist_platform.problem_docs import document_problems
from assist_platform.runtime import ServiceRuntime
from fastapi import FastAPI

from .api import audit, auth, chat, customer, downloads, files, finance, recordings, staff_routes
from .domain import AGENT_LOST_ENDING, CUSTOMER_ENDING
from .edge import TrustedProxyMiddleware
from .identity import staff_of_token, still_signed_in
from .metrics import open_relays_refresher
from .middleware import BodyLimitMiddleware, HeaderLimitMiddleware, SecurityHeadersMiddleware
from .web.problem_language import ProblemLanguageMiddleware
from .ratelimit import SlidingWindowLimiter
from .recording.links import PlaybackLinks
from .recording.retention import sweep_task
from .relay import RelayHub
from .relay.doors import RelayDoors
from .service import CustomerTokens, answer_scope_request, post_chat
from .settings import Settings, get_settings
from .storage import SERVICE
from .storage import build_runtime as build_runtime  # the skeleton's, with the relay added by create_app
from .storage import migrate as migrate  # the face `assist migrate` calls (src/assist/services.py)
from .termination import end_session_everywhere, withdraw_scope_everywhere
from .web import install_web

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


def build_relay_hub(settings: Settings, runtime: ServiceRuntime) -> RelayHub:
    hub = RelayHub(settings=settings, runtime=runtime,
                   authenticate_staff=functools.partial(staff_of_token, runtime.database),
                   still_signed_in=functools.partial(still_signed_in, runtime.database))

    async def customer_ends_from_agent(session_id: str) -> None:
        # The agent speaks for the customer: its code proved it, so its `end_session` is the customer's terminate.
        await end_session_everywhere(runtime=runtime, relay_hub=hub, session_id=session_id, ending=CUSTOMER_ENDING)

    async def customer_takes_a_scope_back_at_the_agent(session_id: str, scope: str) -> None:
        await withdraw_scope_everywhere(runtime=runtime, relay_hub=hub, session_id=session_id, scope=scope,
                                        ending=CUSTOMER_ENDING, actor="customer")

    async def customer_answers_at_the_agent(session_id: str, request_id: str, approve: bool) -> None:
        await answer_scope_request(runtime=runtime, session_id=session_id, request_id=request_id, approve=approve)

    async def customer_writes_at_the_agent(session_id: str, text: str) -> None:
        await post_chat(runtime, session_id=session_id, text=text, staff=None)

    async def agent_lost(session_id: str) -> None:
        await end_session_everywhere(runtime=runtime, relay_hub=hub, session_id=session_id, ending=AGENT_LOST_ENDING)

    hub.end_session_from_agent = customer_ends_from_agent
    hub.withdraw_scope_from_agent = customer_takes_a_scope_back_at_the_agent
    hub.decide_scopes_from_agent = customer_answers_at_the_agent
    hub.post_chat_from_agent = customer_writes_at_the_agent
    hub.end_session_agent_lost = agent_lost
    return hub


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = build_runtime(settings)
    hub = build_relay_hub(settings, runtime)
    runtime.on_connected.append(hub.on_connected)
    runtime.metric_refreshers.append(open_relays_refresher(hub))
    runtime.background.append(sweep_task(settings, hub.recordings.store))  # recordings' retention (#19)
    # The gateway is public: its API map and metrics are not (settings API_DOCS and METRICS_TOKEN).
    app = service_app(name=SERVICE, runtime=runtime, before_stop=[hub.close], api_docs=settings.api_docs,
                      metrics_public=False, metrics_token=settings.metrics_token)
    app.state.settings = settings
    app.state.relay_hub = hub
    app.state.recordings = hub.recordings  # the recordings' store and recorders (#19, api/recordings.py)
    app.state.playback_links = PlaybackLinks.from_settings(settings)
    app.state.customer_tokens = CustomerTokens(runtime)
    hub.session_of_customer_token = app.state.customer_tokens.session_of  # the browser share's door (#18)
    app.state.login_limiter = SlidingWindowLimiter(settings.login_attempts_per_minute, 60.0)
    app.state.help_request_limiter = SlidingWindowLimiter(
        settings.help_requests_per_address, settings.help_requests_window_seconds
    )
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(HeaderLimitMiddleware, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # outside the limits: their 413 and 431 carry the headers too
    for module in (auth, customer, chat, files, staff_routes, finance, audit, recordings):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(hub.router)
    app.include_router(downloads.router)
    install_web(app, runtime)
    # The document (API_DOCS): what the edge answers before any route is on every operation (README, API).
    document_problems(app, every_operation=(431,), with_body=(400, 413))
    app.add_middleware(RelayDoors, routes=hub.router.routes)
    # Around every layer that answers a problem (routes, CSRF, limits): its title and detail in the reader's language.
    app.add_middleware(ProblemLanguageMiddleware)
    # Last added, so the outermost: every layer and route after it sees the client TRUSTED_PROXIES make of it.
    app.add_middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxy_networks)
    return app
