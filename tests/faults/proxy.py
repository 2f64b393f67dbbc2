"""A TCP proxy on loopback that a test can cut and restore: the network between one gateway and NATS."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from assist_platform.ports import free_ports


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_ports(1, avoid=[target_port])[0]  # the target may not listen yet
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut_after: bytes | None = None  # cut once a message containing this has reached the client

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self, *, in_order: bool = False) -> None:
        """Refuse new connections and drop every open one: the gateway sees NATS vanish. `in_order` closes each
        connection after what was written to it (FIN), where a plain cut resets it and may lose what was in flight."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            if in_order:
                writer.close()
            else:
                writer.transport.abort()
        self._writers.clear()

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def cut_after(self, marker: bytes) -> None:
        """Arm a cut for the moment right after NATS has delivered a message containing `marker` to the client:
        the client has it, then NATS goes away (closed in order, so the message is not lost with the cut)."""
        self._cut_after = marker

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, upstream_writer})
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer, to_client=True))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, to_client: bool = False) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                if to_client and self._cut_after is not None and self._cut_after in data:
                    self._cut_after = None
                    await self.cut(in_order=True)
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()


class ProxyThread:
    """The proxy on an event loop of its own thread, so it keeps forwarding while the test blocks (process starts)."""

    def __init__(self, target_port: int) -> None:
        self.proxy = CuttableProxy(target_port)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.proxy.url

    def start(self) -> ProxyThread:
        if not self.thread.is_alive():
            self.thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)
        return self

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.cut(), self.loop).result(10)

    def cut_after(self, marker: bytes) -> None:
        self.loop.call_soon_threadsafe(self.proxy.cut_after, marker)

    def is_cut(self) -> bool:
        return self.proxy.is_cut

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
