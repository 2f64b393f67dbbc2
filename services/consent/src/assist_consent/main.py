"""The consent service process: its runtime (commands, consumers, outbox, expiry task) and an HTTP app for health."""

from __future__ import annotations

from assist_contract.streams import STREAMS
from assist_platform.skeleton import ServiceDefinition

from .commands import ConsentCommands
from .consumers import EndingConsumer
from .expiry import expire_consents
from .models import TABLES
from .service import ConsentService
from .settings import get_settings

SERVICE = ServiceDefinition(
    name="consent",
    package="assist_consent",
    tables=TABLES,
    get_settings=get_settings,
    streams=STREAMS,
    commands=lambda runtime: ConsentCommands(ConsentService.for_runtime(runtime)).commands(),
    subscriptions=lambda runtime: EndingConsumer(ConsentService.for_runtime(runtime)).subscriptions(),
    background=[expire_consents],
)
migrate = SERVICE.migrate
build_runtime = SERVICE.build_runtime
create_app = SERVICE.create_app
