"""The crisis detector (texting.risk) on language it must read: the development halves of the labelled
set pinned case by case, paraphrases written for these tests, each context rule both ways, and the
prefilter that lets a text skip rules (it must never hide a match).

The held-out half is not read here: only bench/risk_eval.py opens it, and only to count."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from inbox.texting import risk, risk_model

DATA = Path(__file__).parent / "data"
DEV_FILES = [f"risk_texts_{name}.jsonl" for name in ("dev", "dev2", "dev3", "dev4")]


def dev_cases() -> list[dict]:
    """Every development case there is (the second set once it is written)."""
    cases = []
    for name in DEV_FILES:
        path = DATA / name
        if path.exists():
            cases += [
                json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
    return cases


DEV = dev_cases()
# Development cases read otherwise than labelled on purpose, each with why (strict: fixing one fails the
# test, so the list cannot go stale).
KNOWN_EXCEPTIONS = {
    "k-0148": "a father threatening a sister to keep a child silent is flagged as his threat to hurt "
    "someone (harm_others), not as the child's abuse: the alert fires either way",
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=KNOWN_EXCEPTIONS[c["id"]], strict=True))
        if c["id"] in KNOWN_EXCEPTIONS
        else c
        for c in DEV
    ],
    ids=[c["id"] for c in DEV],
)
def test_the_development_half_reads_as_labelled(case):
    finding = risk.assess(case["text"])
    if case["label"] == "none":
        assert finding is None, f"{case['category']}: flagged as {finding}"
    else:
        assert finding is not None, f"missed {case['category']}/{case['level']}"
        assert finding.category == case["category"]


# Written for these tests, not taken from any half of the labelled set.
VARIANTS = [
    ("i wanna kms", "suicide", "active_thoughts"),
    ("i dont see the point in living anymore", "suicide", "passive_wish"),
    ("everyone would be happier if i was gone", "suicide", "passive_wish"),
    ("i'd rather be dead", "suicide", "passive_wish"),
    ("ya no le veo caso a la vida", "suicide", "passive_wish"),
    ("quisiera dormirme y no despertar", "suicide", "passive_wish"),
    ("honestly thinking about unaliving myself", "suicide", "active_thoughts"),
    ("estoy pensando en suicidarme", "suicide", "active_thoughts"),
    ("i am going to overdose tonight", "suicide", "plan_intent"),
    ("i keep thinking i should just jump off the bridge", "suicide", "plan_intent"),
    ("me voy a aventar del puente", "suicide", "plan_intent"),
    ("I want to kill myself tonight", "suicide", "plan_intent"),
    ("i have pills saved up just in case", "suicide", "preparatory"),
    ("i've been giving my things away", "suicide", "preparatory"),
    ("ya me despedí de todos", "suicide", "preparatory"),
    ("i just took 15 xanax", "suicide", "attempt"),
    ("my boyfriend tried to kill himself yesterday", "suicide", "attempt"),
    ("mi hija se tomó un bote de pastillas", "suicide", "attempt"),
    ("my daughter burns herself with cigarettes", "self_harm", "self_harm"),
    ("me corto los brazos", "self_harm", "self_harm"),
    ("i started cutting again after my breakup", "self_harm", "relapse"),
    ("volví a lastimarme", "self_harm", "relapse"),
    ("i keep having urges to hurt my newborn", "harm_others", "threat"),
    ("im going to shoot my neighbor", "harm_others", "threat"),
    ("le voy a dar un balazo", "harm_others", "threat"),
    ("my uncle has been touching my daughter", "abuse", "child"),
    ("mi padrastro me toca", "abuse", "child"),
    ("my husband pushed me down the stairs", "abuse", "partner"),
    ("mi novio me amenaza con matarme", "abuse", "partner"),
    ("my grandson takes all my money and doesnt feed me", "abuse", "elder"),
    ("a mi abuela la tienen encerrada y sin comer", "abuse", "elder"),
    ("i keep picturing my own funeral and it feels calm", "suicide", "preparatory"),
    ("mi hermana se corto las venas anoche", "suicide", "attempt"),
    ("my daughter said she's going to stab a girl at school", "harm_others", "threat"),
    ("a neighbor keeps touching my daughter", "abuse", "child"),
    ("ya no quiero estar en este mundo", "suicide", "passive_wish"),
    ("2 years clean from sh and i broke it last night", "self_harm", "relapse"),
]

# Each beside a cue it must not be mistaken for: idiom, denial, the past, a service, a film, an accident.
PLAIN_VARIANTS = [
    "i'm dying to see you guys",
    "i killed it at my interview today",
    "i could kill him lol he forgot the milk",
    "the kids are killing me today haha",
    "me muero de nervios por la primera cita",
    "i have a plan through blue cross",
    "tenemos un plan familiar de seguro",
    "i took all my meds this morning like the doctor said",
    "i'm not going to hurt myself, i promise",
    "no tengo pensamientos suicidas, solo ansiedad",
    "i don't want to die, i want to get better",
    "my ex used to hit me, we divorced in 2010",
    "mi tía se suicidó hace muchos años",
    "do you see kids who self harm",
    "hay terapeutas para víctimas de violencia doméstica?",
    "the movie was about suicide",
    "my son hurt his ankle at practice",
    "my daughter got hit by a ball at softball",
    "me corté el pelo",
    "mi hijo se cortó jugando en el parque",
    "i have a gun license question for the form, is that needed",
    "my husband hit a deer last night so i can't come in",
    "my daughter's coach pushes her really hard at practice",
    "i found out how to reset my password",
    "i'm giving away my old clothes to goodwill",
    "me voy a tirar en la cama todo el dia",
    "quiero desaparecer de las redes sociales un rato",
    "the cat bites me when i pet her too long",
    "he hit me with a pillow during a pillow fight lol",
    "me pegó la gripa, cancelo",
    "se me cortó la llamada, me pueden volver a marcar",
    "we are in a custody battle and my ex says i'm abusive, which isn't true",
]


@pytest.mark.parametrize(("text", "category", "level"), VARIANTS)
def test_paraphrases_are_flagged_at_their_level(text, category, level):
    finding = risk.assess(text)
    assert finding is not None
    assert (finding.category, finding.level) == (category, level)


@pytest.mark.parametrize("text", PLAIN_VARIANTS)
def test_paraphrased_ordinary_texts_are_not_flagged(text):
    assert risk.assess(text) is None


@pytest.mark.parametrize(
    ("flagged", "explained"),
    [
        ("i have thoughts of hurting myself", "no thoughts of hurting myself or anyone else"),
        ("mi esposo me pega", "mi esposo nunca me ha pegado"),
        ("i attempted last week", "i attempted back in 2012, stable for years now"),
        ("i self harm", "do you treat self harm in teens?"),
        ("my dad hits my mom", "the episode where the dad hits my mom made me cry"),
        ("i cut my arm on purpose", "i cut my arm on the broken glass"),
        ("i want to die", "i want to die of embarrassment"),
        ("thinking about suicide", "my grandpa died by suicide"),
        ("i want to kill my roommate", "i want to kill my roommate lol he ate my leftovers"),
    ],
)
def test_context_explains_a_cue_away_and_only_then(flagged, explained):
    assert risk.findings(risk.masked_text(flagged))
    assert not risk.findings(risk.masked_text(explained))


def test_a_clause_break_ends_a_denial():
    assert risk.assess("im not sure what to do, i want to die") is not None
    assert risk.assess("do you have anything this week, i want to kill myself") is not None


def test_risk_about_someone_else_is_risk_and_says_whose():
    son = risk.assess("hi i called yesterday, my son told me last night he wants to kill himself")
    mine = risk.assess("i want to kill myself")
    assert son is not None and son.about == "other"
    assert mine is not None and mine.about == "self"
    assert risk.assess("my boyfriend hits me").about == "self"  # for abuse: whose is the hurt
    assert risk.assess("my moms caregiver hits her").about == "other"


def test_the_most_severe_finding_is_the_answer():
    finding = risk.assess("i keep wishing i was dead. took a whole bottle of my pills an hour ago")
    assert (finding.category, finding.level) == ("suicide", "attempt")


def test_a_weapon_beside_a_threat_is_the_threat():
    finding = risk.assess("my boss is going to pay. i have a gun")
    assert (finding.category, finding.level) == ("harm_others", "threat")


def test_the_cue_is_the_rules_own_words_never_the_persons():
    cues = {entry.rule.cue for entry in risk.TABLE} | {risk.LEARNED_CUE}
    for case in DEV:
        finding = risk.assess(case["text"])
        if finding is not None:
            assert finding.cue.removesuffix(", with a time or method") in cues


def test_normalising_spells_out_what_people_type():
    assert (
        risk.normalise("I DON’T wanna   be here, kms rn") == "i do not want to be here, kill myself right now"
    )
    assert risk.normalise("Mañana xq q") == "manana porque que"
    assert risk.normalise("self-harm") == "self harm"


def test_empty_and_missing_bodies_are_not_risk():
    assert risk.assess(None) is None
    assert risk.assess("") is None
    assert risk.assess("🙂") is None


@pytest.mark.parametrize(
    ("pattern", "needles"),
    [
        (r"\b(took|take) (all|\d+)", {"took ", "take "}),
        (r"\bsuicid\w*", {"suicid"}),
        (r"\bme (pega|golpea)\b", {"me pega", "me golpea"}),
        (r"\b(a|\w+) (said|says) (x|y)", {" said ", " says "}),
        (r"\b\w+\d*", None),
    ],
)
def test_the_prefilter_reads_what_a_pattern_needs(pattern, needles):
    assert risk.required(risk._parser.parse(pattern)) == needles


def test_the_prefilter_never_hides_a_match():
    texts = [case["text"] for case in DEV] + [text for text, _c, _l in VARIANTS] + PLAIN_VARIANTS
    for text in texts:
        masked = risk.mask_benign(risk.normalise(text))
        for entry in risk.TABLE:
            if entry.regex.search(masked):
                assert entry.needles is None or any(n in masked for n in entry.needles), entry.rule


def test_the_committed_second_opinion_is_what_the_development_sets_train():
    trained = risk_model.train(risk_model.development_cases(), risk.masked_text)
    committed = json.loads(gzip.decompress(risk_model.MODEL_FILE.read_bytes()))
    assert trained["trained_on"] == committed["trained_on"]
    assert trained["weights"].keys() == committed["weights"].keys()
    # the same arithmetic on another machine may differ in a last digit, never more
    assert all(abs(a - b) <= 1e-3 for a, b in zip(trained["biases"], committed["biases"], strict=True))
    worst = max(
        abs(a - b)
        for f, row in committed["weights"].items()
        for a, b in zip(trained["weights"][f], row, strict=True)
    )
    assert worst <= 1e-3, "retrain: .venv/bin/python -m inbox.texting.risk_model"


def test_the_second_opinion_never_reads_a_held_out_set():
    assert all("heldout" not in path.name for path in risk_model.DEVELOPMENT_SETS)


def test_the_second_opinion_flags_what_no_rule_names_and_says_so():
    masked = risk.masked_text(
        "idk anymore. everything feels pointless and i keep thinking everyone is better off"
    )
    assert not risk.findings(masked)  # no rule names it ...
    finding = risk.assess(
        "idk anymore. everything feels pointless and i keep thinking everyone is better off"
    )
    if risk_model.model().probability(masked) > risk.FLAG:  # ... and the learned weights decide
        assert finding is not None and (finding.level, finding.cue) == ("unclear", risk.LEARNED_CUE)
    else:
        assert finding is None


def test_the_second_opinion_can_overrule_a_cue_only_in_an_ordinary_text():
    ordinary = "ppd screening at my ob was negative for thoughts of harming myself or the baby"
    crisis = "i keep having thoughts of harming myself and the baby, please call me"
    assert risk_model.model().probability(risk.masked_text(crisis)) > risk.VETO
    assert risk.assess(crisis) is not None
    assert risk.assess(ordinary) is None
