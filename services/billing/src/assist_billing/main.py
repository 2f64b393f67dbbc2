"""The billing service process: its runtime (commands, SESSION consumer, outbox) and its small HTTP face (health)."""

from __future__ import annotations

from assist_contract.streams import STREAMS
from assist_platform.skeleton import ServiceDefinition

from .commands import BillingCommands
from .consumers import session_subscription
from .models import TABLES
from .service import BillingService, store_bundled_price_lists
from .settings import get_settings

SERVICE = ServiceDefinition(
    name="billing",
    package="assist_billing",
    tables=TABLES,
    get_settings=get_settings,
    streams=STREAMS,
    commands=lambda runtime: BillingCommands(BillingService.for_runtime(runtime)).commands(),
    subscriptions=lambda _runtime: [session_subscription()],
    before_start=[lambda runtime: store_bundled_price_lists(runtime.database)],
)
migrate = SERVICE.migrate
build_runtime = SERVICE.build_runtime
create_app = SERVICE.create_app

__all__ = ["SERVICE", "build_runtime", "create_app", "migrate", "store_bundled_price_lists"]
