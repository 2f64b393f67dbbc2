"""The pages people use, served by the gateway: customer, consultant console, supervisor and finance.

`install_web(app, runtime)` is the one call `main.py` makes: routes, static files, the cookie CSRF check and
the live session feed.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import finance_pages, pages, recording_page
from .live import SessionChanges
from .rendering import HERE, VENDOR_DIR
from .security import CookieCsrfMiddleware


def install_web(app: FastAPI, runtime) -> None:
    changes = SessionChanges()
    app.state.session_changes = changes
    runtime.on_connected.append(changes.on_connected)
    app.add_middleware(CookieCsrfMiddleware)
    # A page that is not for the staff member's role is an HTML 403 page with a way back (pages.py).
    app.add_exception_handler(pages.ForbiddenPage, pages.forbidden_page)
    app.include_router(pages.router)
    app.include_router(finance_pages.router)
    app.include_router(recording_page.router)  # /recordings/{id}: playback (#19)
    app.mount("/static/app", StaticFiles(directory=HERE / "static"), name="static-app")
    # Third-party libraries straight from node_modules (installed by `make`); check_dir=False so the API still
    # starts where node is missing, and the pages say so.
    app.mount("/static/vendor", StaticFiles(directory=VENDOR_DIR, check_dir=False), name="static-vendor")
