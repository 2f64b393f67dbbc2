"""Which screen the consultant sees (issue #17): the monitors in the hello, `screen.select` checked against the
agent's own list (anything else refused, nothing changed), the stream switched on the same socket with a whole
frame of the new monitor, pointer coordinates on the chosen monitor, and the customer told which screen is shared
(bg and en, within 80 columns). The last tests run on a real two-monitor Xvfb."""

from __future__ import annotations

import asyncio
import gc
import io

import pytest

from assist_agent import channels as channels_module, console, framing, monitors, tiles
from assist_agent.channels import Channels
from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.monitors import Monitor, MonitorRefused
from assist_agent.status import StatusLine, describe, display_width

# What mss lists on a desktop of two monitors, the left one primary (index 0 is the whole desktop).
MSS_TWO = [{"left": 0, "top": 0, "width": 1824, "height": 768},
           {"left": 0, "top": 0, "width": 1024, "height": 768, "is_primary": True, "output": "screen"},
           {"left": 1024, "top": 0, "width": 800, "height": 600, "is_primary": False}]
TWO = monitors.from_mss(MSS_TWO)
REFUSED_INDEXES = [0, 3, -1, 10**30, -(10**30), 2.0, 1.5, float("nan"), "2", "", True, False, None, [2],
                   {"index": 2}]


# --- the rules --------------------------------------------------------------------------------------------------
def test_the_monitors_are_mss_physical_ones_numbered_as_mss_numbers_them():
    assert TWO == (Monitor(1, 0, 0, 1024, 768, primary=True), Monitor(2, 1024, 0, 800, 600))
    assert TWO[1].origin == (1024, 0) and TWO[1].region() == {"left": 1024, "top": 0, "width": 800, "height": 600}
    assert TWO[0].described() == {"index": 1, "width": 1024, "height": 768, "left": 0, "top": 0, "primary": True}
    # A platform that lists only the whole desktop shares it as screen 1; mss < 10.2 says nothing of a primary.
    assert monitors.from_mss(MSS_TWO[:1]) == (Monitor(1, 0, 0, 1824, 768),)
    assert monitors.from_mss([MSS_TWO[0], {"left": -800, "top": 0, "width": 800, "height": 600}]) == (
        Monitor(1, -800, 0, 800, 600),)
    assert monitors.from_mss([]) == ()


def test_the_primary_monitor_is_shared_first_else_the_first_one():
    assert monitors.shared_first(TWO) == TWO[0]
    swapped = (Monitor(1, 0, 0, 1024, 768), Monitor(2, 1024, 0, 800, 600, primary=True))
    assert monitors.shared_first(swapped) == swapped[1]
    assert monitors.shared_first((Monitor(1, 0, 0, 640, 480),)) == Monitor(1, 0, 0, 640, 480)
    assert monitors.shared_first(()) is None


def test_only_an_index_of_the_agents_own_list_is_chosen():
    assert monitors.chosen(TWO, 2) == TWO[1] and monitors.chosen(TWO, 1) == TWO[0]
    reasons = {"`monitor` must be the number of a screen the agent's hello lists",
               "there is no such screen: this computer shares screens 1, 2"}
    for requested in REFUSED_INDEXES:
        with pytest.raises(MonitorRefused) as refused:
            monitors.chosen(TWO, requested)
        assert str(refused.value) in reasons  # never an echo of what was sent
    with pytest.raises(MonitorRefused, match="no screen"):
        monitors.chosen((), 1)


# --- the channels, with the monitor list of a two-screen desktop --------------------------------------------------
class RecordingInjector:
    """Stands in for the X injector where there is no display: what the channels asked of it."""

    def __init__(self) -> None:
        self.origins: list[tuple[int, int]] = []
        self.events: list = []

    def move_origin(self, origin) -> None:
        self.origins.append(origin)

    def apply(self, event) -> None:
        self.events.append(event)

    def release_all(self) -> None:
        pass

    def close(self) -> None:
        pass

    def finish(self) -> None:
        pass


@pytest.fixture
def two_monitors(monkeypatch):
    monkeypatch.setattr(channels_module, "list_monitors", lambda: TWO)


def _channels(scopes=("view", "control")) -> tuple[Channels, list[dict]]:
    sent: list[dict] = []

    async def send(data: bytes) -> None:
        sent.append(framing.decode(data).json())

    return Channels(send=send, scopes=frozenset(scopes)), sent


async def _hello(channels: Channels, sent: list[dict]) -> dict:
    await channels.peer_joined()
    return [message for message in sent if message["type"] == "hello"][-1]


async def test_the_hello_lists_every_monitor_and_the_one_shared(two_monitors):
    channels, sent = _channels()
    try:
        hello = await _hello(channels, sent)
    finally:
        channels.release()
    assert hello["monitors"] == [monitor.described() for monitor in TWO] and hello["monitor"] == 1
    assert hello["screen"] == {"width": 1024, "height": 768}  # what an older console reads: the shared one


async def test_a_valid_screen_select_is_answered_and_the_next_hello_names_it(two_monitors):
    channels, sent = _channels()
    try:
        await channels.on_frame(console.screen_select(2))
        assert sent == [{"type": "screen.selected", "monitor": 2, "width": 800, "height": 600}]
        hello = await _hello(channels, sent)  # a consultant who reloads sees the same screen
    finally:
        channels.release()
    assert hello["monitor"] == 2 and hello["screen"] == {"width": 800, "height": 600}


@pytest.mark.parametrize("requested", REFUSED_INDEXES)
async def test_an_unknown_or_malformed_screen_select_is_refused_and_changes_nothing(two_monitors, requested):
    channels, sent = _channels()
    channels._injector = injector = RecordingInjector()
    try:
        await channels.on_frame(framing.control("screen.select", monitor=requested))
        await channels.on_frame(framing.control("screen.select"))  # no `monitor` at all
        assert [message["type"] for message in sent] == ["refused", "refused"], sent
        assert all(message["what"] == "screen.select" for message in sent) and channels.refusals == 2
        hello = await _hello(channels, sent)
    finally:
        channels.release()
    assert hello["monitor"] == 1 and hello["screen"] == {"width": 1024, "height": 768}
    assert injector.origins == []


async def test_a_screen_select_without_a_screen_to_share_is_refused(monkeypatch):
    monkeypatch.setattr(channels_module, "list_monitors", lambda: ())
    channels, sent = _channels()
    await channels.on_frame(console.screen_select(1))
    assert sent == [{"type": "refused", "what": "screen.select", "reason": "this computer has no screen to share"}]


async def test_after_a_switch_pointer_coordinates_are_on_the_chosen_monitor(two_monitors):
    channels, sent = _channels()
    channels._injector = injector = RecordingInjector()
    await channels.on_frame(console.screen_select(2))
    await channels.on_frame(console.pointer_move(10, 20))
    await channels.on_frame(console.screen_select(1))
    assert injector.origins == [(1024, 0), (0, 0)]
    assert [(event.x, event.y) for event in injector.events] == [(10, 20)]


# --- what the customer sees ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["bg", "en"])
def test_the_customer_is_told_which_screen_is_shared_whenever_it_changes(language):
    say = Messages(language)
    stream = io.StringIO()
    agent = Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(stream, messages=say))
    agent.scopes = frozenset({"view"})
    agent._monitor_shared(TWO[0], 2)
    agent._monitor_shared(TWO[0], 2)  # the same screen again (a console's reload): nothing new to say
    agent._monitor_shared(TWO[1], 2)
    lines = stream.getvalue().splitlines()
    first = say("monitor.shared", index=1, count=2, width=1024, height=768)
    second = say("monitor.shared", index=2, count=2, width=800, height=600)
    assert [line for line in lines if line in (first, second)] == [first, second], lines
    assert {"bg": "Консултантът вече вижда екран 2 от 2 (800×600).",
            "en": "The consultant now sees screen 2 of 2 (800×600)."}[language] == second
    assert say("status.monitor", index=2, count=2) in lines[-1]  # the status line keeps it
    alone = io.StringIO()
    single = Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(alone, messages=say))
    single.scopes = frozenset({"view"})
    single._monitor_shared(Monitor(1, 0, 0, 640, 480), 1)  # one screen: nothing to choose, nothing to say
    assert "640" not in alone.getvalue() and say("status.monitor", index=1, count=1) not in alone.getvalue()


@pytest.mark.parametrize("language", ["bg", "en"])
def test_the_shared_screen_fits_the_status_line_and_the_way_to_end_stays(language):
    say = Messages(language)
    shown = say("status.monitor", index=2, count=2)
    assert shown == {"bg": "вижда екран 2/2", "en": "view screen 2/2"}[language]
    for scopes in ({"view"}, {"view", "control"}):
        line = describe(consultant="maria", connected_since=0.0, scopes=scopes, now=5.0, messages=say, width=79,
                        monitor=(2, 2))
        assert shown in line and "maria" in line and display_width(line) <= 79, line
    for scopes in ({"view"}, {"view", "control", "files", "clipboard"}):
        for request in (None, {"control"}):
            for width in (79, 60, 40, 20):
                line = describe(consultant="Мария Константинова-Петрова " * 4, connected_since=0.0, scopes=scopes,
                                now=5.0, messages=say, width=width, request=request, observers=("sam",),
                                more_observers=2, chat=True, monitor=(2, 2))
                assert display_width(line) <= width and line.endswith(say("status.hotkey")), (width, line)
    one = describe(consultant="maria", connected_since=0.0, scopes={"view"}, now=5.0, messages=say, monitor=(1, 1))
    assert say("status.monitor", index=1, count=1) not in one  # a single screen is not worth a word


# --- on a real two-monitor display --------------------------------------------------------------------------------
try:
    from agent_flow import TwoMonitorXvfb, missing_x_tools, paint
except ImportError:  # the agent's tests alone, without the repository's test support
    TwoMonitorXvfb = None

needs_x = pytest.mark.skipif(TwoMonitorXvfb is None or missing_x_tools() is not None,
                             reason="needs Xvfb and the repository's tests/support")
LEFT, RIGHT = 0x3366CC, 0xE8A33D


@pytest.fixture
def two_screens(monkeypatch):
    display = TwoMonitorXvfb()
    paint(display, [(0, 0, 1024, 768, LEFT), (1024, 0, 800, 600, RIGHT)])
    monkeypatch.setenv("DISPLAY", display.display)
    yield display
    gc.collect()  # the injector's X connections go before their display does, not in a warning after it
    display.stop()


def _rgb(colour: int) -> tuple[int, int, int]:
    return (colour >> 16) & 255, (colour >> 8) & 255, colour & 255


def _pointer(display) -> tuple[int, int]:
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display.display)
    try:
        reply = connection.screen().root.query_pointer()
        return reply.root_x, reply.root_y
    finally:
        connection.close()


async def _until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@needs_x
async def test_on_two_real_monitors_the_stream_switches_on_the_same_socket_and_the_pointer_follows(two_screens):
    frames: list[bytes] = []

    async def send(data: bytes) -> None:
        frames.append(data)

    channels = Channels(send=send, scopes=frozenset({"view", "control"}))
    try:
        await channels.peer_joined()
        hello = next(framing.decode(f).json() for f in frames if f[0] == framing.CONTROL
                     and framing.decode(f).json()["type"] == "hello")
        assert [(m["index"], m["left"], m["width"], m["height"], m["primary"]) for m in hello["monitors"]] == [
            (1, 0, 1024, 768, True), (2, 1024, 800, 600, False)] and hello["monitor"] == 1

        await channels.on_frame(console.screen_start(max_fps=30))
        await _until(lambda: any(f[0] == framing.SCREEN and f[1] == tiles.FRAME_END for f in frames))
        decoder = tiles.ScreenDecoder()
        for frame in [f for f in frames if f[0] == framing.SCREEN]:
            decoder.apply(frame[1:])
        assert (decoder.width, decoder.height) == (1024, 768) and decoder.pixel(500, 700) == _rgb(LEFT)

        await channels.on_frame(console.pointer_move(10, 20))
        await _until(lambda: _pointer(two_screens) == (10, 20))

        mark = len(frames)
        await channels.on_frame(console.screen_select(2))
        selected = framing.control("screen.selected", monitor=2, width=800, height=600)
        await _until(lambda: selected in frames[mark:] and any(
            f[0] == framing.SCREEN and f[1] == tiles.FRAME_END for f in frames[frames.index(selected, mark):]))
        after = frames[frames.index(selected, mark) + 1:]
        # Right behind `screen.selected`: a whole frame of screen 2, nothing of screen 1 in between.
        assert after[0][:2] == bytes((framing.SCREEN, tiles.FRAME_BEGIN))
        decoder = tiles.ScreenDecoder()
        for frame in after:
            if frame[0] == framing.SCREEN and decoder.apply(frame[1:]):
                break
        assert (decoder.width, decoder.height) == (800, 600)
        assert decoder.pixel(0, 0) == decoder.pixel(799, 599) == _rgb(RIGHT)

        # From now on the consultant's (10, 20) is on screen 2.
        await channels.on_frame(console.pointer_move(10, 20))
        await _until(lambda: _pointer(two_screens) == (1034, 20))
    finally:
        channels.release()
