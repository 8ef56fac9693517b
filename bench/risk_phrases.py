"""The crisis detector's cost per inbound text (texting.risk.assess: normalise, mask, the rules a text
holds the words for, each cue weighed in its clause).

    .venv/bin/python -m bench.risk_phrases

Four texts: a typical scheduling SMS (160 characters), the longest body the webhook accepts made of
real words, the same length of one-letter words (every position a word start), and the same length of
risk sentences (every sentence a cue to weigh: the detector's worst case). Prints microseconds per
check (best of 5); nothing is written.
"""

from __future__ import annotations

import timeit

from inbox.texting.inbound import MAX_BODY
from inbox.texting.risk import assess

TYPICAL = (
    "Hi, this is Maria. Can I reschedule my appointment on Tuesday to Thursday afternoon? Also my "
    "insurance card is attached, let me know if you need the back too. Thanks!"
)
TEXTS = {
    "typical SMS (160 chars)": TYPICAL,
    f"longest body, words ({MAX_BODY} chars)": ("Hi can I reschedule? " * 400)[:MAX_BODY],
    f"longest body, one-letter words ({MAX_BODY} chars)": ("x " * 4000)[:MAX_BODY],
    f"longest body, a cue in every sentence ({MAX_BODY} chars)": ("i want to die, my dad hits me. " * 250)[
        :MAX_BODY
    ],
}


def main() -> None:
    """Time each text."""
    for name, text in TEXTS.items():
        runs = 200 if len(text) < 1000 else 10
        best = min(timeit.repeat(lambda t=text: assess(t), number=runs, repeat=5)) / runs
        print(f"{name}: {best * 1e6:,.0f} µs")


if __name__ == "__main__":
    main()
