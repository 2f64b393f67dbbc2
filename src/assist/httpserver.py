"""How `assist service` serves a process over HTTP: uvicorn on h11, with a bound on the request line and headers.

uvicorn's default parser (httptools) reads up to 8 MiB of headers before an app sees the request, for every
connection anyone opens. h11 stops at `h11_max_incomplete_event_size` bytes; uvicorn then answers a plain 400,
which tells a client nothing, so this protocol answers 431 problem+json, as every other refusal of the API is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from assist_platform.settings import PlatformSettings


class HeaderBoundH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        pending, _closed = self.conn.trailing_data
        limit = self.config.h11_max_incomplete_event_size
        if len(pending) <= limit:
            super().send_400_response(msg)
            return
        body = json.dumps({
            "type": "about:blank", "title": "Request header fields too large", "status": 431,
            "detail": f"The request line and headers may hold at most {limit} bytes.",
        }).encode()
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=431, headers=headers,
                                                         reason=b"Request Header Fields Too Large")))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


def server_options(settings: PlatformSettings) -> dict:
    """uvicorn's options for a service process with these settings: the edge choices made deliberately."""
    return {
        "http": HeaderBoundH11Protocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (FORWARDED_ALLOW_IPS): anyone on the machine could
        # choose their address. The gateway decides the client itself, from TRUSTED_PROXIES (assist_gateway.edge).
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        # The relay carries screen tiles that are compressed already and terminal bytes: per-message deflate
        # would cost the gateway a compression and a decompression per frame (measured: the whole throughput).
        "ws_per_message_deflate": False,
        # Idle keep-alive connections outlive the proxies' own idle timeout (PlatformSettings.http_keep_alive_seconds).
        "timeout_keep_alive": settings.http_keep_alive_seconds,
    }
