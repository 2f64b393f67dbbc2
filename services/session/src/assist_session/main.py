"""The session service process: its runtime (commands, consumer, expiry task) and its small HTTP face (health)."""

from __future__ import annotations

from assist_contract.streams import STREAMS
from assist_platform.skeleton import ServiceDefinition

from .commands import SessionCommands
from .consumers import consent_subscription, observer_subscription
from .expiry import expire_requests_forever
from .metrics import refresh_sessions_by_state
from .models import TABLES
from .service import SessionService
from .settings import get_settings

SERVICE = ServiceDefinition(
    name="session",
    package="assist_session",
    tables=TABLES,
    get_settings=get_settings,
    streams=STREAMS,
    commands=lambda runtime: SessionCommands(SessionService.for_runtime(runtime)).commands(),
    subscriptions=lambda _runtime: [consent_subscription(), observer_subscription()],
    background=[expire_requests_forever],
    metric_refreshers=[refresh_sessions_by_state],
)
migrate = SERVICE.migrate
build_runtime = SERVICE.build_runtime
create_app = SERVICE.create_app
