"""The crisis detector's figures on the labelled set in tests/data/: recall per category and per level,
and the false-alarm rate per kind of ordinary text.

    .venv/bin/python -m bench.risk_eval --half dev        # the half the detector is tuned on
    .venv/bin/python -m bench.risk_eval --half heldout    # figures only: for docs/safety.md
    .venv/bin/python -m bench.risk_eval --half dev --show-misses

A risk text counts as caught when the detector flags it at all (any category: the alert fires either
way); "right category" says how many of those it also names correctly. The held-out half never prints
a text, only counts: whoever tunes the detector must not read it (tests/data/README.md).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from inbox.texting.risk import assess

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
HALVES = {
    "dev": "risk_texts_dev.jsonl",
    "heldout": "risk_texts_heldout.jsonl",
    "dev2": "risk_texts_dev2.jsonl",
    "heldout2": "risk_texts_heldout2.jsonl",
    "dev3": "risk_texts_dev3.jsonl",
    "heldout3": "risk_texts_heldout3.jsonl",
    "dev4": "risk_texts_dev4.jsonl",
    "heldout4": "risk_texts_heldout4.jsonl",
}
# The halves whose texts may be printed: the detector is tuned on them.
DEVELOPMENT = {"dev", "dev2", "dev3", "dev4"}


def load(half: str) -> list[dict]:
    """The half's cases, one dict per line."""
    with open(DATA / HALVES[half], encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pct(part: int, whole: int) -> str:
    """`part/whole (NN.N %)`."""
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def evaluate(half: str, show_misses: bool) -> None:
    """Print one half's table."""
    cases = load(half)
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    right_category = right_level = right_about = 0
    misses, false_alarms, wrong = [], [], []
    for case in cases:
        finding = assess(case["text"])
        risk = case["label"] == "risk"
        keys = [f"{case['label']}:{case['category']}", f"lang:{case['label']}:{case['lang']}"]
        if risk:
            keys += [f"level:{case['category']}/{case['level']}", f"about:{case['about']}"]
        for key in keys:
            total[key] += 1
            caught[key] += finding is not None
        if risk and finding is not None:
            right_category += finding.category == case["category"]
            right_level += finding.category == case["category"] and finding.level == case["level"]
            right_about += finding.about == case["about"]
        if risk and finding is None:
            misses.append(case)
        if risk and finding is not None and finding.category != case["category"]:
            wrong.append((case, finding))
        if not risk and finding is not None:
            false_alarms.append((case, finding))
    risk_total = sum(v for k, v in total.items() if k.startswith("risk:"))
    risk_caught = sum(v for k, v in caught.items() if k.startswith("risk:"))
    none_total = sum(v for k, v in total.items() if k.startswith("none:"))
    none_flagged = sum(v for k, v in caught.items() if k.startswith("none:"))
    print(f"== {half} half: {len(cases)} texts ==")
    print(f"recall: {pct(risk_caught, risk_total)}; right category: {pct(right_category, risk_total)}")
    print(f"right level: {pct(right_level, risk_total)}; right whose risk: {pct(right_about, risk_total)}")
    print(f"false alarms: {pct(none_flagged, none_total)}")
    for prefix, title in [
        ("risk:", "recall by category"),
        ("level:", "recall by level"),
        ("about:", "recall by whose risk"),
        ("none:", "false alarms by kind"),
        ("lang:", "flagged by label and language"),
    ]:
        print(f"-- {title}")
        for key in sorted(k for k in total if k.startswith(prefix)):
            print(f"   {key[len(prefix) :]:<28} {pct(caught[key], total[key])}")
    if show_misses and half in DEVELOPMENT:
        print("-- missed risk texts")
        for case in misses:
            print(f"   {case['id']} {case['category']}/{case['level']}: {case['text']}")
        print("-- caught under another category")
        for case, finding in wrong:
            print(f"   {case['id']} {case['category']} -> {finding.category}/{finding.level}: {case['text']}")
        print("-- false alarms")
        for case, finding in false_alarms:
            print(
                f"   {case['id']} {case['category']} -> {finding.category}/{finding.level} ({finding.cue}): {case['text']}"
            )


def main() -> None:
    """Parse the arguments and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=[*HALVES, "both", "all"], default="dev")
    parser.add_argument(
        "--show-misses", action="store_true", help="list the dev half's misses and false alarms"
    )
    args = parser.parse_args()
    present = [half for half, name in HALVES.items() if (DATA / name).exists()]
    halves = {"both": ["dev", "heldout"], "all": present}.get(args.half, [args.half])
    for half in halves:
        evaluate(half, args.show_misses)


if __name__ == "__main__":
    main()
