from alembic import context
from assist_platform.migrations import run_env

run_env(context)
