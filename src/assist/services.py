"""The services `assist` knows, and the conventions each one follows.

Every service `<name>` is a package `assist_<name>` with `settings.Settings` (read from the environment),
`main.create_app(settings=None)` (the FastAPI app factory) and `main.migrate(settings)`.
"""

from __future__ import annotations

import importlib
import importlib.util

# Start order; the gateways come last because they are the callers of everything else.
KNOWN_SERVICES = ("consent", "session", "billing", "gateway")
GATEWAY = "gateway"


def package(name: str) -> str:
    return f"assist_{name}"


def is_installed(name: str) -> bool:
    # A service whose package is not installed yet (billing arrives later) is simply left out.
    try:
        return importlib.util.find_spec(package(name)) is not None
    except (ImportError, ValueError):
        return False


def available_services() -> list[str]:
    return [name for name in KNOWN_SERVICES if is_installed(name)]


def backend_services() -> list[str]:
    """Every installed service but the gateway: one process each under `assist dev`."""
    return [name for name in available_services() if name != GATEWAY]


def settings_for(name: str):
    """A fresh `Settings` of the service, read from this process's environment."""
    return importlib.import_module(f"{package(name)}.settings").Settings()


def create_app(name: str):
    """The service's FastAPI app, its settings read from this process's environment."""
    return importlib.import_module(f"{package(name)}.main").create_app()


def migrate(name: str) -> None:
    importlib.import_module(f"{package(name)}.main").migrate(settings_for(name))
