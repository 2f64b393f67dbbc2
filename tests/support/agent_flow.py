"""The real agent process against the real system, and a consultant speaking protocol v1 (assist_agent.console)."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from assist_platform.processes import stop_process
from public_api import bearer, connect_consultant, login, next_control, request_help, wait_for_status

from assist_agent import console, framing

ASSIST = str(Path(sys.executable).parent / "assist")
PASSWORD = "a long enough password"


def missing_x_tools() -> str | None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    return f"needs {' and '.join(missing)} (apt-get install -y xvfb xdotool; .ci/run installs them)" if missing else None


class Xvfb:
    """A virtual X display of its own: Xvfb picks a free display number and tells it on -displayfd."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp",
             "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as announced:
            self.display = ":" + announced.readline().strip()
        self.width, self.height = width, height
        self.painter = None  # the Xlib connection that owns painted windows (see `paint`)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def pointer(self) -> tuple[int, int]:
        out = subprocess.run(["xdotool", "getmouselocation", "--shell"], env=self.env(), capture_output=True,
                             text=True, check=True).stdout
        values = dict(line.split("=", 1) for line in out.split())
        return int(values["X"]), int(values["Y"])

    def stop(self) -> None:
        if self.painter is not None:
            self.painter.close()
        self.process.terminate()
        self.process.wait(timeout=10)


class TwoMonitorXvfb(Xvfb):
    """A virtual display with two monitors side by side, listed as a real two-screen desktop lists them (XRandR 1.5
    monitors, which mss reads): screen 1, the primary, `first` pixels at the left; screen 2, `second`, at its right,
    top-aligned. Xvfb has one framebuffer, their bounding box; each monitor is a region of it (`monitors`)."""

    def __init__(self, first: tuple[int, int] = (1024, 768), second: tuple[int, int] = (800, 600)) -> None:
        super().__init__(first[0] + second[0], max(first[1], second[1]))
        self.monitors = [(0, 0, *first), (first[0], 0, *second)]  # (left, top, width, height) of screens 1 and 2
        set_monitors(self, self.monitors)


def set_monitors(display: Xvfb, monitors: list[tuple[int, int, int, int]]) -> None:
    """Defines `monitors` on the display as `xrandr --setmonitor` would (RRSetMonitor), the first one primary and
    holding the display's output, with python-xlib alone: no xrandr binary needed. (python-xlib's own set_monitor
    cannot encode its request in 0.33, so the request is spelled out here.)"""
    from Xlib import display as xdisplay
    from Xlib.ext import randr
    from Xlib.protocol import rq

    class SetMonitor(rq.Request):
        _request = rq.Struct(
            rq.Card8("opcode"), rq.Opcode(43), rq.RequestLength(), rq.Window("window"),
            rq.Card32("name"), rq.Bool("primary"), rq.Bool("automatic"), rq.LengthOf("outputs", 2),
            rq.Int16("x"), rq.Int16("y"), rq.Card16("width"), rq.Card16("height"),
            rq.Card32("width_mm"), rq.Card32("height_mm"), rq.List("outputs", rq.Card32Obj))

    connection = xdisplay.Display(display.display)
    try:
        root = connection.screen().root
        outputs = root.xrandr_get_screen_resources().outputs
        for number, (x, y, width, height) in enumerate(monitors):
            SetMonitor(display=connection.display, opcode=connection.display.get_extension_major(randr.extname),
                       window=root, name=connection.intern_atom(f"SCREEN-{number + 1}"), primary=number == 0,
                       automatic=False, x=x, y=y, width=width, height=height, width_mm=width * 254 // 960,
                       height_mm=height * 254 // 960, outputs=outputs[:1] if number == 0 else [])
        listed = [(m.x, m.y, m.width_in_pixels, m.height_in_pixels) for m in root.xrandr_get_monitors().monitors]
        assert listed == monitors, listed
    finally:
        connection.close()


class AgentProcess:
    def __init__(self, *, gateway: str, code: str, log_dir: Path, env: dict[str, str] | None = None,
                 grace: float | None = None, lang: str | None = "en", verbose: bool = True) -> None:
        """`lang` None: the agent picks from the locale (Bulgarian by default); `verbose`: its log lines in the
        same output as its screen, else in its log file (`log_file`)."""
        self.log_path = log_dir / f"agent-{code}.log"
        self.log_file = log_dir / f"agent-{code}.file.log"
        self._log = open(self.log_path, "wb")
        args = [ASSIST, "agent", "--gateway", gateway, "--code", code]
        if grace is not None:
            args += ["--grace", str(grace)]
        if lang is not None:
            args += ["--lang", lang]
        args += ["--verbose"] if verbose else ["--log-file", str(self.log_file)]
        # A plain /bin/sh: the machine's own ~/.bashrc may be slow or print anything.
        env = {**(env or os.environ), "SHELL": "/bin/sh"}
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=env)

    def press(self, keys: bytes) -> None:
        self.process.stdin.write(keys)
        self.process.stdin.flush()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while text not in self.log():
                await asyncio.sleep(0.05)

    async def wait_exit(self, timeout: float = 20.0) -> int:
        async with asyncio.timeout(timeout):
            while self.process.poll() is None:
                await asyncio.sleep(0.05)
        return self.process.returncode

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self._log.close()


@dataclass
class Consultant:
    ws: object
    session_id: str
    customer_token: str
    agent_hello: dict
    pending: dict = field(default_factory=dict)

    async def send(self, frame: bytes) -> None:
        await self.ws.send(frame)

    async def next_frame(self, channel: int, timeout: float = 10.0) -> framing.Frame:
        """The next frame of `channel`; frames of other channels wait in `pending` for their own reader."""
        if self.pending.get(channel):
            return self.pending[channel].pop(0)
        async with asyncio.timeout(timeout):
            while True:
                message = await self.ws.recv()
                if isinstance(message, bytes):
                    frame = framing.decode(message)
                    if frame.channel == channel:
                        return frame
                    if frame.channel != framing.SCREEN:  # screen frames are only ever read live
                        self.pending.setdefault(frame.channel, []).append(frame)

    async def next_control(self, wanted: str, timeout: float = 10.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                message = (await self.next_frame(framing.CONTROL, timeout)).json()
                if message["type"] == wanted:
                    return message

    async def terminal_until(self, text: str, timeout: float = 10.0) -> str:
        seen = b""
        async with asyncio.timeout(timeout):
            while text.encode() not in seen:
                seen += (await self.next_frame(framing.TERMINAL, timeout)).payload
        return seen.decode(errors="replace")


async def start_session(system, tmp_path: Path, *, scopes=("view", "control"), env=None, gateway=None,
                        grace=None, lang: str | None = "en", verbose: bool = True) -> tuple[AgentProcess, Consultant]:
    """A help request, the real agent process with its code, a claiming consultant, and the agent's hello."""
    url = system.gateway_url
    system.add_user("consultant", "maria", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=url, timeout=10) as customer:
        request = await request_help(customer, scopes=scopes)
    agent = AgentProcess(gateway=gateway or url, code=request.session_code, log_dir=tmp_path, env=env, grace=grace,
                         lang=lang, verbose=verbose)
    await agent.wait_for_log("[waiting for the consultant]" if lang == "en" else "[чака консултанта]", timeout=20)
    consultant, _token = await consultant_joins(url, request)
    return agent, consultant


async def consultant_joins(url: str, request) -> tuple[Consultant, str]:
    """maria claims the request and opens the console; the agent's hello answered and the session active. The
    consultant and maria's token."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as staff:
        token = await login(staff, "maria", PASSWORD)
        claimed = await staff.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    ws = await connect_consultant(url, request.session_id, token)
    await next_control(ws, "peer_joined")
    consultant = Consultant(ws=ws, session_id=request.session_id, customer_token=request.customer_token,
                            agent_hello={})
    consultant.agent_hello = await consultant.next_control("hello", timeout=15)
    await consultant.send(console.hello())
    async with httpx.AsyncClient(base_url=url, timeout=10) as customer:
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
    return consultant, token


async def session_view(system, consultant: Consultant) -> dict:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
        response = await customer.get(f"/api/v1/sessions/{consultant.session_id}",
                                      headers=bearer(consultant.customer_token))
        return response.json()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def paint(display: Xvfb, rectangles: list[tuple[int, int, int, int, int]]) -> None:
    """Show (x, y, w, h, 0xRRGGBB) rectangles as borderless X windows, with Xlib, independently of the agent.

    Xvfb keeps no drawing on the root window, so each rectangle is a mapped window, alive as long as the display.
    """
    import time

    from Xlib import display as xdisplay

    if display.painter is None:
        display.painter = xdisplay.Display(display.display)
    screen = display.painter.screen()
    for x, y, w, h, colour in rectangles:
        window = screen.root.create_window(x, y, w, h, 0, screen.root_depth, background_pixel=colour,
                                           override_redirect=1)
        window.map()
    display.painter.sync()
    x, y, w, h, colour = rectangles[-1]
    expected = bytes(((colour >> 16) & 255, (colour >> 8) & 255, colour & 255))
    deadline = time.monotonic() + 5
    while screen_rgb(display)[((y + h // 2) * display.width + x + w // 2) * 3:][:3] != expected:
        assert time.monotonic() < deadline, "the painted window never showed"
        time.sleep(0.02)


def screen_rgb(display: Xvfb) -> bytes:
    """The X server's own picture of the screen, packed RGB rows (what the console must end up showing)."""
    from Xlib import X, display as xdisplay

    connection = xdisplay.Display(display.display)
    root = connection.screen().root
    image = root.get_image(0, 0, display.width, display.height, X.ZPixmap, 0xFFFFFFFF)
    connection.close()
    bgrx = image.data
    rgb = bytearray(display.width * display.height * 3)
    rgb[0::3], rgb[1::3], rgb[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]
    return bytes(rgb)


class Forwarder:
    """A TCP hop between the agent and the gateway that the test can freeze: the network goes silent, no close."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = asyncio.Event()
        self.server = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader, writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer),
                             return_exceptions=True)

    async def _pipe(self, reader, writer) -> None:
        while not self.frozen.is_set():
            data = await reader.read(65536)
            if not data:
                break
            if self.frozen.is_set():
                break
            writer.write(data)
            await writer.drain()
        await self.frozen.wait()  # hold the connection open and silent

    async def stop(self) -> None:
        self.frozen.set()
        self.server.close()


class TmuxAgent:
    """The real agent in a tmux window of its own (80x24 unless told), on a tmux server of its own: what a customer
    sees is `screen()`, tmux's capture of the pane. The pane stays after the agent exits, with its exit status."""

    def __init__(self, *, gateway: str, code: str, log_dir: Path, lang: str | None = None, cols: int = 80,
                 rows: int = 24, extra_args: tuple[str, ...] = ()) -> None:
        self.socket = f"assist-agent-{os.getpid()}-{code}"
        self.log_file = log_dir / f"agent-{code}.file.log"
        args = [ASSIST, "agent", "--gateway", gateway, "--code", code, "--log-file", str(self.log_file), *extra_args]
        if lang is not None:
            args += ["--lang", lang]
        command = " ".join(shlex.quote(arg) for arg in args) + "; echo EXIT=$?; sleep 600"
        env = {**os.environ, "SHELL": "/bin/sh", "LANG": "C.UTF-8", "TERM": "xterm-256color"}
        env.pop("LC_ALL", None)
        env.pop("TMUX", None)
        subprocess.run(["tmux", "-u", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", str(cols),
                        "-y", str(rows), "sh", "-c", command], env=env, check=True)

    def screen(self) -> list[str]:
        out = subprocess.run(["tmux", "-u", "-L", self.socket, "capture-pane", "-p"], capture_output=True,
                             check=True).stdout.decode("utf-8", "replace")
        return out.split("\n")[:-1]

    async def wait_for_screen(self, text: str, timeout: float = 20.0, *, line: bool = False) -> list[str]:
        """The screen once it shows `text` (`line`: as a whole line, not inside the echo of a command)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    lines = self.screen()
                    if any((shown.rstrip() == text) if line else (text in shown) for shown in lines):
                        break
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"{text!r} never showed; the screen:\n" + "\n".join(self.screen())) from None
        return lines

    def title(self) -> str:
        """The pane's title: what an OSC 0/2 sequence written to the window would have set."""
        return subprocess.run(["tmux", "-u", "-L", self.socket, "display-message", "-p", "#{pane_title}"],
                              capture_output=True, check=True).stdout.decode("utf-8", "replace").strip()

    def stop(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
