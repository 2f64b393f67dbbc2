"""The options `assist service` gives uvicorn (src/assist/httpserver.py), as the settings choose them."""

from __future__ import annotations

import pytest
from assist.httpserver import server_options
from assist_platform.settings import PlatformSettings
from pydantic import ValidationError


def test_idle_connections_outlive_the_idle_timeout_of_a_proxy_in_front():
    # uvicorn's own 5 s equals httpx's client default: a request on a connection the server was closing was lost.
    assert server_options(PlatformSettings())["timeout_keep_alive"] == 75
    assert server_options(PlatformSettings(http_keep_alive_seconds=120))["timeout_keep_alive"] == 120


def test_a_keep_alive_of_zero_or_less_is_refused_at_start():
    with pytest.raises(ValidationError, match="http_keep_alive_seconds"):
        PlatformSettings(http_keep_alive_seconds=0)


def test_forwarding_headers_are_never_believed_by_the_server_itself():
    options = server_options(PlatformSettings())
    assert (options["proxy_headers"], options["forwarded_allow_ips"]) == (False, "")


def test_every_service_reads_at_most_max_header_bytes_of_a_request_line_and_headers():
    assert server_options(PlatformSettings())["h11_max_incomplete_event_size"] == 16384
    assert server_options(PlatformSettings(max_header_bytes=4096))["h11_max_incomplete_event_size"] == 4096


@pytest.mark.parametrize("bound", [1023, 1048577])
def test_a_header_bound_outside_its_range_is_refused_at_start(bound):
    with pytest.raises(ValidationError, match="max_header_bytes"):
        PlatformSettings(max_header_bytes=bound)
