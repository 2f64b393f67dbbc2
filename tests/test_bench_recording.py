"""The recording benchmark runs (quick mode): the relay's throughput with recording on and off in one run, rounds
alternating, and what the recording kept; the full run is `make bench`."""

from __future__ import annotations

import re

import pytest
from bench_run import bench_output

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_recording_benchmark_prints_the_throughput_with_recording_on_and_off_and_what_was_recorded():
    stdout = bench_output("recording.py", "--quick", timeout=280)
    rounds = re.findall(r"^  round (\d+)  recording (on|off) +(\d+) sessions: +([\d.]+) MB/s  CPU per MB: ", stdout,
                        re.M)
    assert {(setting, sessions) for _, setting, sessions, _ in rounds} == \
        {(setting, n) for setting in ("on", "off") for n in ("1", "3")}, stdout
    assert [setting for number, setting, sessions, _ in rounds if sessions == "1"] == ["on", "off", "off", "on"]
    assert all(float(mbps) > 0 for *_, mbps in rounds)
    rows = re.findall(r"^\| (on|off) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$",
                      stdout, re.M)
    assert len(rows) == 4, stdout
    assert set(re.findall(r"^\| (1|3) \| ([\d.]+) % \|$", stdout, re.M)) and \
        len(re.findall(r"^\| (?:1|3) \| [\d.]+ % \|$", stdout, re.M)) == 2, stdout
    recorded = re.search(r"^recorded: ([\d.]+) MB in (\d+) object store messages \(recording off: 0 B\)$", stdout,
                         re.M)
    assert recorded and float(recorded.group(1)) > 0, stdout
