"""Plain-language reasons for Twilio error codes, and whether a retry can help."""

from __future__ import annotations

REASONS: dict[int, str] = {
    20003: "Twilio rejected the account credentials.",
    20404: "Not found at Twilio.",
    20429: "Twilio's rate limit was reached.",
    21211: "The phone number is not a valid mobile number.",
    21408: "Texting this country is not enabled on the account.",
    21602: "The message was empty.",
    21606: "The practice's number cannot send texts.",
    21610: "The recipient replied STOP and has unsubscribed from texts.",
    21612: "Texts cannot be sent between these two numbers.",
    21614: "The number is not a mobile number that can receive texts.",
    30003: "The phone is switched off or out of coverage.",
    30004: "The recipient's carrier blocked the message.",
    30005: "The number does not exist or is no longer in service.",
    30006: "The number is a landline or cannot receive texts.",
    30007: "The carrier filtered the message as spam.",
    30008: "The carrier could not deliver the message (unknown error).",
    30034: "The practice's number is not registered for A2P 10DLC texting yet.",
}

# Codes where the same message may go through later; the others fail the same way every time.
RETRYABLE = {30003, 30008}


def error_reason(code: int | None) -> str | None:
    """A sentence a coordinator can act on, for a Twilio error code."""
    if code is None:
        return None
    return REASONS.get(code, f"Twilio error {code}.")


def can_retry(code: int | None) -> bool:
    """Whether offering a retry makes sense for this error."""
    return code in RETRYABLE
