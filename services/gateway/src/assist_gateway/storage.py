"""The gateway's declaration in the platform's skeleton: its database, where it lives and how it is brought to the
newest schema, and its runtime (main.py adds the relay and the app around it).

Apart from `main.py` so that whatever needs the database without the app (`assist user add` through
`staff.add_user`) does not import the app, and the app does not import it back.
"""

from __future__ import annotations

from assist_contract.streams import STREAMS
from assist_platform.skeleton import ServiceDefinition

from .models import TABLES
from .settings import get_settings

# No commands of its own (the relay serves the cut subjects, main.py) and no audit command: the gateway reads its
# own chain in place (api/audit.py) and asks the others for theirs.
GATEWAY = ServiceDefinition(
    name="gateway", package="assist_gateway", tables=TABLES, get_settings=get_settings, streams=STREAMS,
)
SERVICE = GATEWAY.name
migrate = GATEWAY.migrate
open_database = GATEWAY.open_database
build_runtime = GATEWAY.build_runtime
