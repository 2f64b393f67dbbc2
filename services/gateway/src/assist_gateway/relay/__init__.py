"""The relay: byte-transparent WebSocket forwarding that holds a consent lease per endpoint (DESIGN.md)."""

from .routes import RelayHub

__all__ = ["RelayHub"]
