"""Split the crisis-language evaluation set into a dev half and a held-out half.

The cases were written by hand (see README.md in this folder) into ONE combined
JSONL list that was kept outside the repository (e.g. /tmp/risk_texts_all.jsonl,
objects without an "id"). That combined list is deliberately NOT committed:
only the two halves produced here are.

    python tests/data/split_risk_texts.py /tmp/risk_texts_all.jsonl   # split
    python tests/data/split_risk_texts.py --check                      # validate halves, print counts

Split rule (deterministic):
  * group cases into strata by (label, category, level, lang): this is the
    requested (label, category, lang) stratification refined by level, so that
    each half also gets the same mix of risk levels (for negatives level is
    always "none", so for them it is exactly (label, category, lang));
  * inside each stratum, sort by text, then shuffle with random.Random(2026);
  * the first half of each stratum goes to dev, the rest to held-out; for a
    stratum of odd size the extra case alternates dev / held-out between the
    odd level-strata of the same (label, category, lang) group (strata visited
    in sorted order; successive groups start on alternate sides), so every
    (label, category, lang) group differs by at most one case between the
    halves and every (category, level) by at most two;
  * each half is shuffled with the same generator and numbered
    d-0001... (dev) and h-0001... (held-out).

Rule for users of the set: the detector's authors tune only on the dev half;
the held-out half is read only by bench/risk_eval.py.
"""

import collections
import json
import os
import random
import sys

SEED = 2026
HERE = os.path.dirname(os.path.abspath(__file__))
DEV = os.path.join(HERE, "risk_texts_dev.jsonl")
HELDOUT = os.path.join(HERE, "risk_texts_heldout.jsonl")

RISK_LEVELS = {
    "suicide": {"passive_wish", "active_thoughts", "plan_intent", "preparatory", "attempt"},
    "self_harm": {"self_harm", "relapse"},
    "harm_others": {"threat"},
    "abuse": {"child", "partner", "elder"},
}
NONE_CATEGORIES = {
    "idiom",
    "negation",
    "past_or_relative",
    "service_question",
    "accident_or_medical",
    "media_or_other",
    "ordinary",
}
FIELDS = ["id", "text", "lang", "label", "category", "level", "about", "reason"]


def validate(case):
    """Raise ValueError if one case is malformed (id optional before the split)."""
    for f in FIELDS[1:]:
        if not isinstance(case.get(f), str) or not case[f].strip():
            raise ValueError(f"missing/empty {f}: {case}")
    if set(case) - set(FIELDS):
        raise ValueError(f"unknown fields: {set(case) - set(FIELDS)}")
    if case["lang"] not in ("en", "es"):
        raise ValueError(f"bad lang: {case}")
    if case["label"] == "risk":
        if case["level"] not in RISK_LEVELS.get(case["category"], ()):
            raise ValueError(f"bad risk category/level: {case}")
        if case["about"] not in ("self", "other"):
            raise ValueError(f"bad about: {case}")
    elif case["label"] == "none":
        if case["category"] not in NONE_CATEGORIES or case["level"] != "none" or case["about"] != "none":
            raise ValueError(f"bad none case: {case}")
    else:
        raise ValueError(f"bad label: {case}")
    if "http" in case["text"].lower() or "www." in case["text"].lower():
        raise ValueError(f"URL in text: {case}")


def split(cases):
    rng = random.Random(SEED)
    strata = collections.defaultdict(list)
    for c in cases:
        strata[(c["label"], c["category"], c["level"], c["lang"])].append(c)
    dev, held = [], []
    next_start = True  # which half the first odd stratum of a new parent favours
    extra_to_dev = {}  # parent (label, category, lang) -> does its next odd extra go to dev?
    for key in sorted(strata):
        group = sorted(strata[key], key=lambda c: c["text"])
        rng.shuffle(group)
        n_dev = len(group) // 2
        if len(group) % 2:
            parent = (key[0], key[1], key[3])
            if parent not in extra_to_dev:
                extra_to_dev[parent] = next_start
                next_start = not next_start
            n_dev += 1 if extra_to_dev[parent] else 0
            extra_to_dev[parent] = not extra_to_dev[parent]
        dev += group[:n_dev]
        held += group[n_dev:]
    rng.shuffle(dev)
    rng.shuffle(held)
    out = []
    for prefix, half in (("d", dev), ("h", held)):
        out.append(
            [{"id": f"{prefix}-{i:04d}", **{k: c[k] for k in FIELDS[1:]}} for i, c in enumerate(half, 1)]
        )
    return out


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write(path, cases):
    with open(path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


def check():
    """Validate both halves and print markdown count tables."""
    halves = {"dev": load(DEV), "heldout": load(HELDOUT)}
    ids, texts = set(), set()
    for cases in halves.values():
        for c in cases:
            validate(c)
            if c["id"] in ids:
                raise ValueError(f"duplicate id {c['id']}")
            key = " ".join(c["text"].lower().split())
            if key in texts:
                raise ValueError(f"duplicate text {c['id']}")
            ids.add(c["id"])
            texts.add(key)
    allc = halves["dev"] + halves["heldout"]

    def table(title, keyf):
        keys = sorted({keyf(c) for c in allc})
        print(f"\n**{title}**\n")
        print("| " + title + " | dev | heldout | total |")
        print("| --- | ---: | ---: | ---: |")
        for k in keys:
            d = sum(1 for c in halves["dev"] if keyf(c) == k)
            h = sum(1 for c in halves["heldout"] if keyf(c) == k)
            print(f"| {k} | {d} | {h} | {d + h} |")
        print(f"| total | {len(halves['dev'])} | {len(halves['heldout'])} | {len(allc)} |")

    table("label", lambda c: c["label"])
    table("lang", lambda c: c["lang"])
    table("label / lang", lambda c: f"{c['label']} / {c['lang']}")
    table("label / category", lambda c: f"{c['label']} / {c['category']}")
    table(
        "risk category / level",
        lambda c: f"{c['category']} / {c['level']}" if c["label"] == "risk" else "(none)",
    )
    table("about", lambda c: c["about"])
    return halves


def main(argv):
    if argv[1:] == ["--check"]:
        check()
        return 0
    if len(argv) != 2:
        print(__doc__)
        return 2
    cases = load(argv[1])
    seen = set()
    for c in cases:
        c.pop("id", None)
        validate(c)
        key = " ".join(c["text"].lower().split())
        if key in seen:
            raise ValueError(f"duplicate text: {c['text']}")
        seen.add(key)
    dev, held = split(cases)
    write(DEV, dev)
    write(HELDOUT, held)
    print(f"wrote {len(dev)} dev and {len(held)} held-out cases")
    check()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
