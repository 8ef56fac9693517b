"""The crisis phrase table's cost per inbound text: one normalisation and one regex pass.

    .venv/bin/python -m bench.risk_phrases

Three texts: a typical scheduling SMS (160 characters), the longest body the webhook accepts made of
real words, and the same length of one-letter words (every position a word start: the worst case).
Prints microseconds per check (best of 5); nothing is written.
"""

from __future__ import annotations

import timeit

from inbox.texting.inbound import MAX_BODY
from inbox.texting.risk import risk_category

TYPICAL = (
    "Hi, this is Maria. Can I reschedule my appointment on Tuesday to Thursday afternoon? Also my "
    "insurance card is attached, let me know if you need the back too. Thanks!"
)
TEXTS = {
    "typical SMS (160 chars)": TYPICAL,
    f"longest body, words ({MAX_BODY} chars)": ("Hi can I reschedule? " * 400)[:MAX_BODY],
    f"longest body, one-letter words ({MAX_BODY} chars)": ("x " * 4000)[:MAX_BODY],
}


def main() -> None:
    """Time each text."""
    for name, text in TEXTS.items():
        runs = 200 if len(text) < 1000 else 10
        best = min(timeit.repeat(lambda t=text: risk_category(t), number=runs, repeat=5)) / runs
        print(f"{name}: {best * 1e6:,.0f} µs")


if __name__ == "__main__":
    main()
