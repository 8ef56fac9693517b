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

# The same codes mean something else when an admin sets up a texting number (20404 there: the number is
# not in this account, not a missing message), so number setup has its own sentences, for an admin.
NUMBER_REASONS: dict[int, str] = {
    20404: "Twilio does not have this number in the account this app uses.",
    21421: "That is not a number Twilio can sell.",
    21422: "That number is no longer for sale: someone else has just bought it. Search again and pick another.",
    21452: "Twilio has no numbers for sale in that area code right now. Try a neighbouring area code.",
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
