"""The crisis detector's second opinion: a logistic regression over what a message shares with the
labelled development texts (tests/data/risk_texts_dev*.jsonl), for the ways of saying it that no rule
names, and for telling a rule's cue in an ordinary text from the same cue in a crisis.

It is small and local: its weights are the gzipped JSON file beside this module (trained here in a few
seconds, committed, read once; nothing is downloaded), and a text's log-odds is a sum of per-feature
weights, so what moved it can be listed. Features come from the same normalised, masked text the rules
read: words, word pairs and five-character pieces (which carry spellings, Spanish endings and shorthand
the words miss).

    .venv/bin/python -m inbox.texting.risk_model       # retrain after the development sets change

`tests/test_risk_detector.py` checks that the committed weights are what training on today's
development sets gives, so the two cannot drift apart. The held-out sets are never read here.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("risk_model.json.gz")
ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_SETS = [
    ROOT / "tests" / "data" / f"risk_texts_{name}.jsonl" for name in ("dev", "dev2", "dev3", "dev4")
]
CATEGORIES = ("suicide", "self_harm", "harm_others", "abuse")
# Chosen across writers (trained on one development set, read on another) and on paraphrases written
# for the tests: a stronger L2 keeps short ordinary texts from reading as sure (docs/safety.md).
EPOCHS = 30
RATE = 0.1
L2 = 1e-2
SEED = 0
WORD = re.compile(r"[a-z0-9]+")


def features(masked: str) -> set[str]:
    """Words, word pairs and five-character pieces of a normalised, masked text."""
    words = WORD.findall(masked)
    padded = f" {masked} "
    return (
        set(words)
        | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
        | {padded[i : i + 5] for i in range(len(padded) - 4)}
    )


@dataclass(frozen=True, slots=True)
class Model:
    """Logistic regressions over the same features: one for risk against none (all a decision needs),
    and one per risk category against the other risk texts (read only for a text no rule names)."""

    bias: float
    weights: dict[str, float]
    category_biases: list[float]  # CATEGORIES in order
    category_weights: dict[str, list[float]]

    @classmethod
    def from_file(cls, data: dict) -> Model:
        """The weights file's layout (one row per feature: risk, then each category) split in two."""
        rows = data["weights"]
        return cls(
            data["biases"][0],
            {f: row[0] for f, row in rows.items()},
            data["biases"][1:],
            {f: row[1:] for f, row in rows.items()},
        )

    def probability(self, masked: str) -> float:
        """How likely the text is a crisis text, as the development sets taught it (0 to 1)."""
        weights = self.weights
        return sigmoid(self.bias + sum(weights.get(f, 0.0) for f in features(masked)))

    def category(self, masked: str) -> str:
        """The risk category the text reads as most."""
        totals = list(self.category_biases)
        for f in features(masked):
            for i, w in enumerate(self.category_weights.get(f, ())):
                totals[i] += w
        return CATEGORIES[max(range(len(CATEGORIES)), key=totals.__getitem__)]


def sigmoid(z: float) -> float:
    """The logistic function, clamped so that no text overflows it."""
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit(rows: list[tuple[set[str], float]]) -> tuple[float, dict[str, float]]:
    """One L2-regularised logistic regression by stochastic gradient descent, the cases in a fixed order
    (a retrain on the same cases gives the same weights to the last digit or so: a set's features are
    summed in an order that differs between processes)."""
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(rows)))
    shuffle = random.Random(SEED)
    for _epoch in range(EPOCHS):
        shuffle.shuffle(order)
        for i in order:
            found, label = rows[i]
            error = sigmoid(bias + sum(weights.get(f, 0.0) for f in found)) - label
            bias -= RATE * error
            for f in found:
                w = weights.get(f, 0.0)
                weights[f] = w - RATE * (error + L2 * w)
    return bias, weights


def train(cases: Iterable[dict], masked_text: Callable[[str], str]) -> dict:
    """The weights file's content from labelled cases: the risk regression on all of them, each
    category's on the risk cases, weights rounded to 4 decimals."""
    read = [(case, features(masked_text(case["text"]))) for case in cases]
    fits = [fit([(found, float(case["label"] == "risk")) for case, found in read])]
    risky = [(case, found) for case, found in read if case["label"] == "risk"]
    fits += [fit([(found, float(case["category"] == c)) for case, found in risky]) for c in CATEGORIES]
    vocabulary = sorted(set().union(*(w for _b, w in fits)))
    return {
        "trained_on": dict(sorted(Counter(case["label"] for case, _f in read).items())),
        "biases": [round(b, 4) for b, _w in fits],
        "weights": {f: [round(w.get(f, 0.0), 4) for _b, w in fits] for f in vocabulary},
    }


@cache
def model() -> Model:
    """The committed weights, read once."""
    return Model.from_file(json.loads(gzip.decompress(MODEL_FILE.read_bytes())))


def development_cases() -> list[dict]:
    """The development sets' cases (never the held-out ones)."""
    cases = []
    for path in DEVELOPMENT_SETS:
        cases += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return cases


def encode(data: dict) -> bytes:
    """The weights file's bytes: sorted JSON, gzipped without a timestamp (a diff shows only weights)."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    return gzip.compress(text.encode("utf-8"), mtime=0)


def main() -> None:
    """Retrain from the development sets and write the weights file."""
    from inbox.texting.risk import masked_text

    data = train(development_cases(), masked_text)
    MODEL_FILE.write_bytes(encode(data))
    print(f"{MODEL_FILE.name}: {len(data['weights'])} features from {data['trained_on']}")


if __name__ == "__main__":
    main()
