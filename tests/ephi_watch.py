"""Every log line the suite produces, in this process and in the servers and workers it starts, is
scanned at the end of the session for the patient data and secrets the tests fed in.

Tests feed data through the helpers that create it (factories, the `inbound` fixtures, the fake
Twilio's credentials), which `remember` it; any log line containing one of those values, or any
number in the range the tests use for patients (+1 415 555 ....), fails the session.
"""

from __future__ import annotations

import logging
import re

# Patients' numbers in tests are all +1 415 555 xxxx (practice numbers use 500 555, which may be logged).
PATIENT_NUMBER = re.compile(r"\+?1?[ (.-]*415[ ).-]*555[ .-]*\d{4}")
MIN_LENGTH = 5  # shorter values ("YES", "Hi") appear in ordinary words


class LogWatch(logging.Handler):
    """Keeps every record's final text, whatever the level, and the values that must not be in it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self.sensitive: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message as it would be written, with any traceback."""
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append((record.name, text))

    def remember(self, *values: object) -> None:
        """Mark values (bodies, names, numbers, secrets) that must never reach a log."""
        for value in values:
            if isinstance(value, str) and len(value.strip()) >= MIN_LENGTH:
                self.sensitive.add(value.strip())

    def add_output(self, source: str, text: str) -> None:
        """Add a subprocess's captured output (a server's or worker's log) to the scan."""
        self.lines.extend((source, line) for line in text.splitlines())

    def leaks(self) -> list[str]:
        """Log lines holding a remembered value or a patient number: "<logger>: <the value>" each."""
        found = set()
        for source, line in self.lines:
            hits = [v for v in self.sensitive if v in line] + PATIENT_NUMBER.findall(line)
            found.update(f"{source}: {hit!r}" for hit in hits)
        return sorted(found)


watch = LogWatch()
remember = watch.remember
add_output = watch.add_output


def install() -> None:
    """Start the session's watch: a handler on the root logger, INFO and up at least."""
    root = logging.getLogger()
    root.addHandler(watch)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
