"""Recording, disclosed on the pages (#19): whether this gateway records sessions, and for how long it keeps them.

The request page says so before the consent (with the period), and the customer's page then shows "● Recorded"
while the session runs. Both follow the gateway's own settings (RECORDING_ENABLED, RECORDING_RETENTION_DAYS), the
same ones its relay tells every `attached` socket, so the page never promises what the relay does not do.
"""

from __future__ import annotations

from dataclasses import dataclass

# The defaults of the settings, for a gateway whose settings predate them (read with getattr).
DEFAULT_ENABLED = True
DEFAULT_RETENTION_DAYS = 30.0


@dataclass(frozen=True)
class RecordingNotice:
    retention_days: float  # RECORDING_RETENTION_DAYS: a fraction of a day is allowed (a test's short retention)

    def period(self, words: dict[str, str]) -> str:
        """How long a recording is kept, in the page's words: "30 дни", "1 day"; part of a day in whole hours
        ("12 hours", never less than one)."""
        days = self.retention_days
        if days == int(days):
            days = int(days)
            if days == 1:
                return words["cp_recording_one_day"]
            return words["cp_recording_days"].replace("{days}", str(days))
        hours = max(1, round(days * 24))
        if hours == 1:
            return words["cp_recording_one_hour"]
        return words["cp_recording_hours"].replace("{hours}", str(hours))

    def text(self, words: dict[str, str]) -> str:
        return words["cp_recording_disclosure"].replace("{period}", self.period(words))


def recording_notice(settings) -> RecordingNotice | None:
    """What the pages disclose about recording: None where sessions are not recorded."""
    if not getattr(settings, "recording_enabled", DEFAULT_ENABLED):
        return None
    return RecordingNotice(retention_days=float(getattr(settings, "recording_retention_days", DEFAULT_RETENTION_DAYS)))
