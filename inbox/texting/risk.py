"""The crisis detector: does a person's message (a text, the public form's reason, a caller's words on a
phone intake) read as acute risk, in English or Spanish, and why.

It is local and explainable: no text leaves the server, nothing is downloaded, every finding names the
rule's fixed cue and the level clinicians screen for (C-SSRS and crisis-line wording):

- suicide: a passive wish to be dead, active thoughts, a plan / method / intent / timing, preparatory
  acts (pills saved, goodbye letters, things given away), an attempt just made or disclosed;
- self-harm, and its relapse;
- a threat to hurt a person;
- abuse and neglect disclosed or reported: of a child, a partner, an older adult.

How a text is read, in four steps:

1. `normalise` once: lower case, accents and apostrophes dropped, the shorthand people type spelled out
   ("kms", "ctb", "unalive", "sh", "wanna", "dont", "abt", "q", "xq").
2. Idioms and phrases that name risk without being risk are masked out, keeping the text's length:
   "die of embarrassment", "me muero de sueño", "died by suicide", "suicide prevention training".
3. `RULES` are searched, each only in a text that holds one of the strings it cannot match without
   (read off its own pattern when the module is imported), so an ordinary text pays for a handful of
   rules, not all of them (the webhook is a hot path). Risk about someone else ("my son said he wants
   to kill himself") is risk: many rules read both.
4. Each cue is weighed in its own clause and sentence: negation just before it ("no thoughts of hurting
   myself", "nunca me ha pegado"), the distant past ("in 2015", "when i was little", "hace años"), a
   question about services ("do you treat self harm in teens?"), a film or a school project, an
   accident ("cut my finger cooking"). A cue those explain away does not count; when in doubt between a
   miss and a false alarm, the alarm wins.

The most severe finding that survives is the answer. Measured on a labelled set nobody tuned it on:
`python -m bench.risk_eval` (docs/safety.md has the figures); `tests/test_risk_detector.py` pins the
development half's categories.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inbox.texting import risk_model

# --- 1. normalising ------------------------------------------------------------------------------

APOSTROPHES = str.maketrans({"'": None, "’": None, "`": None, "´": None, "-": " ", "_": " "})

# What people type, spelled out, one word at a time (after lower case, accents and apostrophes go).
SHORTHAND: dict[str, str] = {
    # contractions without their apostrophes
    "dont": "do not",
    "didnt": "did not",
    "doesnt": "does not",
    "wont": "will not",
    "wouldnt": "would not",
    "wasnt": "was not",
    "werent": "were not",
    "isnt": "is not",
    "arent": "are not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "shouldnt": "should not",
    "im": "i am",
    "ive": "i have",
    "youre": "you are",
    "theyre": "they are",
    "hes": "he is",
    "shes": "she is",
    "everyones": "everyone is",
    "whats": "what is",
    "w": "with",
    "pa": "para",
    "cansa": "cansada",
    "thats": "that is",
    "ill": "i will",
    "id": "i would",
    # texting shorthand
    "u": "you",
    "ur": "your",
    "r": "are",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "bcuz": "because",
    "rn": "right now",
    "tn": "tonight",
    "tonite": "tonight",
    "2nite": "tonight",
    "2night": "tonight",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrow": "tomorrow",
    "pls": "please",
    "plz": "please",
    "ppl": "people",
    "idk": "i do not know",
    "ngl": "honestly",
    "tbh": "honestly",
    "wanna": "want to",
    "wana": "want to",
    "gonna": "going to",
    "gunna": "going to",
    "gona": "going to",
    "finna": "going to",
    "gotta": "got to",
    "tryna": "trying to",
    "imma": "i am going to",
    "ima": "i am going to",
    "til": "until",
    "till": "until",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "hubby": "husband",
    "mum": "mom",
    "alot": "a lot",
    # how risk itself is typed
    "kms": "kill myself",
    "ctb": "kill myself",
    "kys": "kill yourself",
    "unalive": "kill",
    "unaliving": "killing",
    "unalived": "killed",
    "sh": "self harm",
    "shing": "self harming",
    "selfharm": "self harm",
    "od": "overdose",
    "oded": "overdosed",
    "myslef": "myself",
    "mysef": "myself",
    "myselfe": "myself",
    "mysefl": "myself",
    "kil": "kill",
    "wnat": "want",
    "suicidial": "suicidal",
    # Spanish
    "q": "que",
    "k": "que",
    "xq": "porque",
    "pq": "porque",
    "porq": "porque",
    "tmb": "tambien",
    "x": "por",
}
WORD = re.compile(r"[a-z0-9]+")


def normalise(body: str) -> str:
    """Lower case, accents and apostrophes dropped, shorthand spelled out, whitespace collapsed: the text
    every rule below is written against. Punctuation stays: it bounds clauses and sentences."""
    decomposed = unicodedata.normalize("NFKD", body.translate(APOSTROPHES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = WORD.sub(lambda m: SHORTHAND.get(m.group(), m.group()), plain)
    plain = re.sub(r"\bmy self\b", "myself", plain)
    return " ".join(plain.split())


# --- 2. what names risk without being risk --------------------------------------------------------

BENIGN = [
    # hyperbole and idiom
    r"\b(die|dying|died|dead) (of|from) (embarrassment|shame|boredom|laughter|laughing|cringe|curiosity"
    r"|old age|cancer|covid|natural causes|a heart attack|the heat|the cold|hunger|thirst)",
    r"\bdying (laughing|to|for|of)\b",
    r"\bto die for\b",
    r"\bkill(ing)? (for|two birds|time)\b",
    r"\b(killing|killed|kills|slaying|slayed) (it|the game)\b",
    r"\b(me muero|muero|me moria|morirme|morir|muert[oa]s?) de \w+",
    r"\bmataria por\b",
    r"\b(me|nos) (mata|matan|va a matar|van a matar|matara|mataria) (si|de|con)\b",
    r"\bhit (me|us) up\b",
    r"\bshoot\w* (myself|yourself|ourselves|himself|herself) in the foot\b",
    r"\bhanging (on )?by a thread\b",
    r"\bcould (kill|murder|strangle) (\w+ ){1,3}for \w+ing\b",
    r"\bse quito la vida\b",
    r"\b(hit|hits|hitting) (a|the) (deer|pole|curb|pothole|tree|bump|button|jackpot|gym|road|snooze|wall at work)\b",
    r"\b(the |my |our |her |his )?(cat|dog|puppy|kitten|bird|hamster|horse|parrot|baby|toddler) (\w+ ){0,2}?(bites|bit"
    r"|scratches|scratched|kicks|kicked|hits|hit) (me|us|her|him)\b",
    r"\b(se )?me pego (la|el) (gripa|gripe|resfriado|virus|covid|catarro|tos|flu)\b",
    r"\boverdos\w* on (coffee|caffeine|sugar|candy|chocolate|netflix|tv|shows?|carbs|pizza|tacos)\b",
    r"\b(died|dies|death|murio|fallecio|muerte) (of|from|de|por) (an |a |una )?(overdose|sobredosis)\b",
    r"\briesgo de suicid\w*",
    r"\b(me|nos) (va|van) a (colgar|ahorcar) (si|de|cuando|por)\b",
    r"\bse me (corto|corta|fue) (la|el) (llamada|luz|internet|senal|linea)\b",
    r"\btook (all )?(of )?my (meds|medication|medications|pills) (this morning|today|tonight|on time|as prescribed|like)",
    # a death in the family, a topic, a service: naming suicide or abuse is not being at risk
    r"\b(died|dies|die|death|lost \w+|loss) (by|of|from|to) suicide\b",
    r"\bcommitted suicide\b",
    r"\b(lost|losing|lose) (\w+ ){0,3}to suicide\b",
    r"\b(grieving|bereaved by|survivors? of|impacted by|affected by|touched by) (a |his |her |their |my )?suicide",
    r"\b(suicide|self harm|self injury|abuse|domestic violence|overdose) (prevention|awareness|warning signs"
    r"|hotline|training|survivors?|loss|bereavement|support groups?|risk assessments?|screenings?|questions?"
    r"|handouts?|workshops?|month|week|statistics|research|policy|protocol)\b",
    r"\b(substance|drug|alcohol|opioid|opiate) (abuse|overdose|use)\b",
    r"\babuso de (sustancias|drogas|alcohol)\b",
    r"\bperd\w+ a (\w+ ){1,3}por (el )?suicidio\b",
    r"\b(prevencion|prevenir) (del |de )?(suicidio|abuso|violencia)\b",
    r"\b(se suicido|se mato|murio por suicidio|muerte por suicidio)\b",
]
BENIGN_RE = re.compile("|".join(f"(?:{p})" for p in BENIGN))


def mask_benign(text: str) -> str:
    """Blank out the benign phrases, keeping every other character where it was."""
    return BENIGN_RE.sub(lambda m: "~" * len(m.group()), text)


# --- 3. the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One cue: its category and level, the fixed words an alert shows for it (never the person's
    words), and its pattern. A `topic` rule is a word that names risk ("suicidal", "self harm",
    "abused"): it counts only where the text is not about a service, a film or a death long ago."""

    category: str
    level: str
    cue: str
    pattern: str
    topic: bool = False


SELF = r"myself"
OTHER_SELF = r"(himself|herself|themselves|themself)"
PERSON = (
    r"(him|her|them|someone|somebody|anyone|anybody|everyone|everybody|people|others"
    r"|(my|our|his|her|the|that|this|their) (\w+ ){0,2}?(mom|mother|dad|father|stepdad|stepmom|stepfather"
    r"|stepmother|wife|husband|boss|coworkers?|co workers?|family|kids?|children|son|daughter|baby|babies"
    r"|brother|sister|partner|boyfriend|girlfriend|ex|roommate|teachers?|neighbou?rs?|landlord|manager"
    r"|friends?|cousin|uncle|aunt|girl|guy|man|woman|classmates?|students?|school|in laws?|supervisor|newborn|infant"
    r"|toddler|little one|boy|twins|stepson|stepdaughter|nephew|niece)"
    r"|(a|an|some|this|that|the) (girl|boy|kid|guy|man|woman|student|teacher|classmate|person|lady|dude))"
)
NOT_A_PERSON = r"(?! (feelings|back|knee|leg|arm|case|chances|business|career|reputation|record|time|phone))"
HARM_VERB = (
    r"(kill|killing|hurt|hurting|harm|harming|murder|murdering|stab|stabbing|shoot|shooting|strangle"
    r"|strangling|choke|choking|beat|beating|attack|attacking|poison|poisoning|smother|smothering|shake"
    r"|shaking|run over|drown|drowning)"
)
INTENT = (
    r"(want|wants|wanted|wanting|going|planning|plan|plans|about|need|ready|trying|tempted|urge|urges"
    r"|urged|thoughts of|thought of|thoughts about|thinking (a lot |so much )?(about|of)|fantasiz\w* about"
    r"|dream\w* (about|of)|will|would|could|might|should|gonna|going to)"
)
ADVERB = r"((actually|really|just|seriously|literally|honestly|definitely|fucking|finally|probably) )?"
VIOLENT = (
    r"(hits?|hitting|beats?|beating|beat up|slaps?|slapped|slapping|punch(es|ed|ing)?|kicks?|kicked"
    r"|kicking|chokes?|choked|choking|strangl\w+|shov(es|ed|ing)|shove|push(es|ed|ing)?|throws things at|threw \w+ at"
    r"|burns?|burned|whips?|whipped|smacks?|smacked|drags?|dragged|grabs?|grabbed|pulls? my hair"
    r"|pulled my hair|bit|bites|spits? on|locks?|locked|hurts|hurting|hurt|abuses?|abused|abusing"
    r"|molests?|molested|molesting|rapes?|raped|raping|touch(es|ed|ing)?|attack(s|ed)|assault(s|ed))"
)
PERPETRATOR = (
    r"(he|she|they|(my|his|her|our|the|a|an|some|this|that) (\w+ ){0,2}?(dad|father|stepdad|stepfather|mom|mother|stepmom"
    r"|stepmother|boyfriend|girlfriend|husband|wife|partner|ex|uncle|aunt|brother|sister|cousin|grandpa"
    r"|grandma|grandson|granddaughter|caregiver|coach|teacher|babysitter|nanny|neighbou?r|son|daughter"
    r"|staff|aide|priest|pastor))"
)
VICTIM = (
    r"(?!(his|her|my) (ankle|knee|back|arm|leg|head|hand|foot|wrist|shoulder|neck|finger|toe|elbow|hip|car"
    r"|phone|record)s?\b)(her|him|them|us|my \w+|his \w+|the (kids|baby|children|kid))"
)
PILLS = r"(pills|meds|medication|medications|medicine|tablets|tylenol|advil|sleeping pills|xanax|insulin|\w+ pills)"
PASTILLAS = r"(pastillas|pildoras|medicinas|medicamentos|tabletas)"
ES_HARM = (
    r"(matar|matarlo|matarla|matarlos|lastimar|lastimarlo|lastimarla|golpear|apunalar|acuchillar|balacear"
    r"|ahorcar|quemar|hacerle dano|hacerles dano|darle un tiro|meterle un (cuchillo|tiro|balazo)"
    r"|partirle la madre|madrear|atropellar|desaparecer)"
)

MEANS_CUE = "a means obtained"
WEAPON_CUE = "a weapon at hand"
AGGRAVATING = {MEANS_CUE, WEAPON_CUE}
RULES: list[Rule] = [
    # ---- suicide: an attempt made or disclosed -------------------------------------------------
    Rule(
        "suicide",
        "attempt",
        "an attempt made",
        r"\b(tried|try|trying|attempted|attempting|almost) (to )?(kill|hang|end|overdose|shoot|drown|suffocate"
        rf"|poison|jump|take|killed|hanged|od) ({SELF}|{OTHER_SELF}|(my|his|her|their) (own )?life|it\b|her own"
        r"|his own|off)",
    ),
    Rule(
        "suicide",
        "attempt",
        "pills taken",
        r"\b(swallowed|took|ate) everything (in|from) (the|my) (medicine )?(cabinet|cupboard)"
        r"|\b(took|take|taken|swallowed|downed|ate|popped|took like) (like |about |around |maybe |almost |over"
        r" |nearly |probably )?(\d{2,}|a (whole |full |entire )?(bottle|handful|bunch|lot|pack|box|ton)|all"
        r" (of )?(my|the|his|her|these|those|them) ?(pills|meds|tylenol|\w+ pills|sleeping pills|bottle)?|the"
        r" (whole|entire|rest of the) (bottle|pack|box)|way too many|too many|tons)( of)?( my| the| his| her)?"
        rf" ?({PILLS}|\w+)?(?! (today|this morning|on time|as prescribed|like (you|the doctor)))",
    ),
    Rule(
        "suicide",
        "attempt",
        "an overdose",
        r"\b(overdosed|overdosing|overdose) (on purpose|last night|yesterday|today|again|on|this morning)",
    ),
    Rule(
        "suicide",
        "attempt",
        "an attempt made",
        r"\b(attempted|attempt)( suicide| last| yesterday| this| again| on| tonight| a few| \w+ days ago|$|[.,!])",
    ),
    Rule("suicide", "attempt", "an attempt made", r"\b(an|my|his|her|a) (suicide )?attempt\b"),
    Rule(
        "suicide",
        "attempt",
        "cut to bleed",
        r"\b(cut|slit|slashed|cutting) (too |really |so )?(deep|my wrists?|his wrists?|her wrists?|my throat)"
        r"|\b(bleeding|blood) (will not|does not|wont|is not|can not|cant) stop",
    ),
    Rule(
        "suicide",
        "attempt",
        "an attempt made",
        r"\b(intente|intento|trato|trate|quiso|intentaba|intentado) (de )?(quitarme la vida|matarme|suicidarme"
        r"|ahorcarme|quitarse la vida|matarse|suicidarse|ahorcarse|colgarse|cortarse las venas|cortarme las venas"
        r"|tirarse|tirarme|envenenarse|envenenarme)",
    ),
    Rule(
        "suicide",
        "attempt",
        "pills taken",
        r"\b(me|se) (tome|tomo|trague|trago|acabe|acabo) (todas|todo|un frasco|el frasco|un bote|el bote|muchas"
        rf"|un monton|una caja|la caja|\d{{2,}})( de)?( las| mis| sus)?( {PASTILLAS})?",
    ),
    Rule("suicide", "attempt", "an overdose", r"\b(sobredosis|intento de suicidio)\b"),
    Rule(
        "suicide",
        "attempt",
        "an attempt made",
        rf"\b(hung|hanged|shot|stabbed|cut|poisoned|overdosed|strangled) ({OTHER_SELF}|{SELF})( \w+){{0,8}}? (in"
        r" time|survived|alive|icu|hospital|er|911|ambulance|cpr)\b",
    ),
    # ---- suicide: a plan, a method, intent, timing --------------------------------------------------
    Rule(
        "suicide",
        "plan_intent",
        "a method named",
        r"\b(going to|will|plan|plans|planning|planned|about|decided|want|wants|ready|gonna|thinking of"
        r"|thinking about) (to )?"
        + ADVERB
        + r"(take|taking|swallow|swallowing|down) (them all|all (of )?(my|the|these|those|them|his|her)|every (pill|one)|the"
        r" (whole|entire) (bottle|thing)|a (whole )?bottle|\d{2,})",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a method named",
        r"\b(jump|jumping|jumped) (off|from|in front of) (the |a |my )?(\w+ ){0,2}(bridge|building|roof|garage"
        r"|overpass|balcony|cliff|window|tower|train|truck|bus|car|traffic|parking)",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a method named",
        rf"\b(hang|hanging|shoot|shooting|drown|drowning|poison|poisoning|suffocate|electrocute|gas) ({SELF}"
        rf"|{OTHER_SELF})",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a method named",
        r"\b(plan|plans|planning|planned|going|want|wants) (to )?overdose|\boverdose on\b",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a plan",
        r"\b(a|the|my) plan (and a (date|time|day)|to (kill|end|die|do it|overdose|jump|hang|shoot))"
        r"|\b(i|he|she) (have|has|made|got) a plan(?=\s*($|[.,!?;]))"
        r"|\b(researching|looking up|googling|searching) (methods|ways|how)\b"
        r"|\bthought (about|of) how (i would|to|i will|i could) do it\b"
        r"|\bhow (to|do i|do you|can i|many \w+ (does it take|would it take)) (to )?(kill (myself|yourself)|end"
        r" (it|my life)|hang|overdose|die)\b|\bways to (die|kill (myself|himself|herself)|end it)\b",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "knows how",
        r"\b(figured|worked|found|know|knows) (out )?(how|the how|a way)( i am going to| to do it| i will"
        r"| to end it|\s*($|[.,!?;]))"
        r"|\b(ya )?se como (lo voy a hacer|hacerlo|matarme|me voy a|lo hare|voy a)",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a time set",
        r"\b(end|ending|do|doing) it (tonight|tomorrow|this weekend|on \w+day|\w+day|after|when|before|for good"
        r"|soon|today|this week)|\b(i am|i will|i am going to|going to|gonna|i will be) (end|ending) it\b"
        r"|\btonight (is|will be) (the night|my last)|\b(my|the) last (night|day) (alive|on earth|here)",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a method named",
        r"\b(me voy a|se va a|voy a|va a|quiero) (tirar|aventar)( me| se)? (del|de un|de una|de la|al|a la|por la)"
        r" (puente|edificio|techo|azotea|ventana|metro|tren|carro|balcon|barranco|segundo piso|tercer piso)"
        r"|\b(me voy a|se va a|voy a|va a|quiero) (colgar|ahorcar|dar un tiro|pegar un tiro|cortar"
        rf" las venas|tomar todas|tomarme todas|tomar el frasco|tomarme el frasco|tomarme un frasco)"
        rf"|\b(tomarme|tomarse) (todas|el frasco|un frasco|todo el frasco)( las| mis)?( {PASTILLAS})?"
        r"|\b(ya )?tengo (todo|un plan|el plan) (planeado|listo|pensado|preparado)"
        r"|\besta noche (me quito|me mato|lo hago|lo voy a hacer|me voy|se acaba)"
        r"|\b(drive|crash|drove|driving|crashing) (my car )?(into|off) (a|the) (tree|wall|bridge|cliff|truck|traffic"
        r"|river|lake|pole|overpass)"
        r"|\b(pills|bottle|gun|knife|rope|blade|razor|pastillas|pistola) (is |are )?(in front of me|in my hand"
        r"|right here|next to me|en la mano|enfrente de mi)",
    ),
    # ---- suicide: preparing -------------------------------------------------------------------------
    Rule(
        "suicide",
        "preparatory",
        "pills saved",
        r"\b(saving|saved|stockpil\w+|hoarding|hoarded|collecting|collected|stashing|stashed|keeping)"
        rf" (up )?(my |all my |all of my |his |her |a lot of |some )?({PILLS})"
        r"|\b(guardando|guarde|junte|juntando|ahorrando) (mis |las |sus )?(pastillas|pildoras|medicinas)"
        rf"|\b{PILLS} (saved|stashed|stockpiled|hidden|hoarded) (up|away)?",
    ),
    Rule(
        "suicide",
        "preparatory",
        "goodbye letters",
        r"\b(goodbye|farewell|suicide) (letters?|notes?|messages?|texts?|videos?)"
        r"|\b(wrote|writing|written|write) (letters|a letter|notes) (to|for) (each|every|all|my)"
        r"|\b(a )?note (that says|saying|that said) (sorry|goodbye|i love)"
        r"|\b(already )?said (my )?goodbyes?( to (everyone|everybody|my (family|friends|kids|parents)))?\b"
        r"|\bcartas? (para|a) (mi familia|mis hijos|todos|mi mama|mi esposa|mi esposo)|\bnoose\b"
        r"|\bcartas? de despedida|\b(ya )?me despedi de|\bdespedirme de (todos|mi|mis)",
    ),
    Rule(
        "suicide",
        "preparatory",
        "things given away",
        r"\b(will not|wont|do not|not going to) (need|be needing) (them|it|these|those|any of (it|this|them)"
        r"|anymore|my \w+)|\b(gave|giving|give|given) away (my|all my|all of my|everything|his|her|all his|all her|their)\b(?! (old|outgrown|extra|spare|clothes))"
        r"|\b(gave|giving|given) (all )?(my|his|her) (\w+ ){0,2}away\b"
        r"|\bya no (los|las|lo|la|me) (voy a necesitar|va a necesitar|van a servir|vamos a necesitar)"
        r"|\b(regale|regalando|regalar|regalo) (mis|todas mis|todo|mis cosas|sus|todas sus|todas las)",
    ),
    Rule(
        "suicide",
        "preparatory",
        MEANS_CUE,
        r"\b(bought|got|buying|purchased|ordered|found|have|has|hid|hiding) (a |some )?(gun|handgun|shotgun|rifle|rope|pistol|firearm"
        r"|noose|razor blades)\b(?! (license|safe|lock|class|range))"
        r"|\b(compre|consegui|compro|consiguio) (una |un )?(pistola|cuerda|soga|arma)"
        r"|\b(pills|bottle of pills|bag of pills) (in|under) (his|her|my \w+|my) (\w+ )?(closet|room|drawer|bed)",
    ),
    Rule(
        "suicide",
        "preparatory",
        "affairs put in order",
        r"\b(updated|made|wrote|finished|redid|changed) my will\b|\b(everything|affairs|things|stuff) in order"
        r" (before|for when)|\bput (my|all my) affairs in order|\bnobody will have to (clean up|deal with|worry)"
        r"|\b(will not|not) be coming back|\bhacer (mi )?testamento|\bya no voy a estar (para|aqui|en|con)"
        r"|\bno voy a estar para",
    ),
    # ---- suicide: active thoughts ---------------------------------------------------------------
    Rule(
        "suicide",
        "active_thoughts",
        "thoughts of killing oneself",
        rf"\b(kill|killing|end|ending|take|taking) ({SELF}|my (own )?life)\b",
    ),
    Rule(
        "suicide",
        "active_thoughts",
        "thoughts of killing oneself",
        rf"\b(kill|end|take|ending|killing|taking|hurt) ({OTHER_SELF}|(his|her|their) (own )?life)\b",
    ),
    Rule(
        "suicide",
        "active_thoughts",
        "thoughts of killing oneself",
        r"\b(want|wants|wanted|going|plan|planning|thinking about|thoughts of|thinking of|think about|ready"
        r"|feel like|feeling like) (to )?(end it|ending it|end things|ending things|end everything)\b"
        r"|\bend(ing)? it all\b|\bend(ing)? everything\b"
        r"|\b(want|wish|need) (it all|everything|my life|all of it|this life) to (end|stop|be over)"
        r"|\b(the pain|it|everything) to (stop|end) (forever|for good|permanently)"
        r"|\bmade (my )?peace with (it|dying|death|everything|my decision)"
        r"|\b(quiero|quisiera|ojala) (que )?(todo|esto|mi vida) se (acabe|termine)"
        r"|\b(me )?(quiero|voy a|puedo) quitar la vida",
    ),
    Rule(
        "suicide",
        "active_thoughts",
        "thoughts of dying",
        r"\b(thinking|thought|think|thoughts|dreaming|fantasiz\w*) (a lot )?(about|of) (dying|death|being dead"
        r"|not (being )?(here|alive|around)|not existing|killing myself|suicide)"
        r"|\bmake (it|everything|the pain|it all) (all )?stop (for good|forever|permanently)"
        r"|\b(will not|not going to|not) be (around|here|alive) (much longer|for long|anymore|next|by|for|to see"
        r"|after)|\b(do|doing) (something|anything) (to|stupid to) myself|\bthis is (my )?goodbye\b",
    ),
    Rule("suicide", "active_thoughts", "suicidal", r"\bsuicid\w*", topic=True),
    Rule(
        "suicide",
        "active_thoughts",
        "thoughts of killing oneself",
        r"\b(matarme|suicidarme|me suicido|quitarme la vida|me quito la vida|me quiero matar|me voy a matar"
        r"|me quiero suicidar|me voy a suicidar|acabar con (mi vida|todo|esto)|terminar con (mi vida|todo)"
        r"|matarse|suicidarse|quitarse la vida|se quiere matar|se va a matar|se quiere suicidar"
        r"|desaparecer para siempre|ya no estar aqui)\b"
        r"|(^|[.,!?;]\s*|\b(ya|mejor|yo|hoy|esta noche|manana|que) )me mato\b"
        r"|\b(pienso|piensa|pensando|pensaba|piensan|pense) en (matarme|matarse|morirme|morirse|la muerte"
        r"|suicid\w+|quitarme|quitarse|acabar|no despertar|desaparecer)",
    ),
    # ---- suicide: a wish to be dead -----------------------------------------------------------------
    Rule(
        "suicide",
        "passive_wish",
        "wish to be dead",
        r"\b(want|wants|wanted|wanting|wish|wishing|ready|deserve|going|just want) (to )?die\b"
        r"|\b(want|wants|wish|wishing) (to be|i was|i were|he was|she was|he were|she were|you were|you was)"
        r" dead\b"
        r"|\bwish(es|ed|ing)? (i|he|she|they|you) (was|were|had|could) (just )?(dead|gone|never (been )?born|not"
        r" (alive|here|born)|die|disappear|just disappear|just die|not exist|stop existing|vanish|sleep"
        r" forever|never wake up)"
        r"|\b(never|not) (been )?born\b"
        r"|\bwish(es|ed|ing)? (i|he|she) could (just )?(disappear|vanish|stop existing|sleep forever|go to sleep"
        r"|not wake up|not be here)",
    ),
    Rule(
        "suicide",
        "passive_wish",
        "wish to be dead",
        r"\b(do not|dont|does not|no longer|never) (want|wanna|wish|wants) (to )?(be alive|live|living|exist"
        r"|be here|wake up|go on|be around|keep living|keep going)"
        r"\b(?! (with|in|at|near|there|alone|by|on|so|far|like that|through))"
        r"|\b(tired|sick) of (being alive|living|life|existing|being here)"
        r"|\bbetter off (dead|without me|if i (was|were|am) (not|no longer|gone|dead|never))"
        r"|\b(no|nothing to|no reason to|not worth|no point( in)?) (live|living|live for|going on)\b"
        r"|\blife (is|is just) not worth|\bwhat is the point (of|in) (living|life|going on|being alive)"
        r"|\b(go to sleep|fall asleep|sleep) (and )?(never|not) wake up|\bsleep forever\b"
        r"|\bnot wake up\b|\bnever wake up\b"
        r"|\bhope (i|that i) (get (really |very |so )?(sick|hit|cancer|in (a|an) (accident|crash))|just die"
        r"|die|do not wake up|never wake up|do not recover|do not make it)"
        r"|\b(such |just )?a burden (to|on) (everyone|everybody|my|them|people)"
        r"|\bno one would (miss|notice|care)|\bnobody would (miss|notice|care)"
        r"|\bdisappear (forever|and never come back|for good)|\b(can not|cant) (go on|keep going)\b|\b(can|cant|can not) keep (living|going) (like this|this way)"
        r"|\bnot going to make it(?=\s*($|[.,!?;]| through| much longer))"
        r"|\b((do not|can not|cant) )?(see|find|is) (the |any |no )?point (in|of) (living|life|going on|being"
        r" alive|being here)"
        r"|\b(better|happier|easier) (off )?(if i (just )?((was|were) (gone|not here|dead|not around)|disappeared"
        r"|died|was not here|were not here)|without me)"
        r"|\b(want|wanna|wish) (to )?(just )?disappear(?=\s*($|[.,!?;]| forever| for good))"
        r"|\bdone with (life|living|being alive|it all)\b|\bfeel like (dying|i should (just )?die)"
        r"|\b(would|i would) rather (be dead|die|not be alive|not exist)|\blive or die\b"
        r"|\b(death|dying|being dead) (sounds|seems|would be|feels like) (peaceful|nice|easier|like a relief"
        r"|better|like the only)",
    ),
    Rule(
        "suicide",
        "passive_wish",
        "wish to be dead",
        r"\b(quiero|quisiera|queria|deseo|desearia|quiere) (morir|morirme|estar muert[oa]|desaparecer(?! (de|del|un rato|unos dias))|dejar de"
        r" existir|no despertar|dormir para siempre|no haber nacido|ya no estar)"
        r"|\bojala (me muriera|me muera|no despertara|no despierte|estuviera muert[oa]|no existiera|nunca hubiera"
        r" nacido|no hubiera nacido|me pase algo|me atropelle)"
        r"|\bno (le )?(encuentro|veo|tiene) (sentido|razon|caso)( a| para| de)? ?(vivir|la vida|seguir)"
        r"|\bla vida no tiene sentido|\bno vale la pena (vivir|seguir)|\bpara que (sigo )?vivir"
        r"|\bmejor sin mi\b|\bmejor muert[oa]s?\b|\b(soy|seria) una carga\b"
        r"|\bpronto (ya )?no (sere|voy a ser) (un )?(problema|una carga)"
        r"|\bno quiero (vivir|seguir viviendo|estar viv[oa]|despertar|existir|seguir aqui|seguir asi"
        r"|seguir en este mundo)|\bno quiero seguir(?=\s*($|[.,!?;]))"
        r"|\b(ya )?no (aguanto|puedo) mas(?=\s*($|[.,!?;]| con (la|esta) vida))"
        r"|\b(cansad[oa]|me canse|me harte|harta|harto) de (vivir|la vida|existir)|\bnadie me (extranaria|va a extranar)"
        r"|\bmejor me (muero|muera|mato|voy)\b|\bir(me)? (de este mundo|para siempre)"
        r"|\b(dormir|dormirme) y (no|nunca) (despertar|volver a despertar)|\bvivir o morir\b"
        r"|\bno (tengo|hay) (razon|razones|motivos?|nada) (para|por) (que )?vivir"
        r"|\b(ya )?no quiero estar aqui(?=\s*($|[.,!?;]|nunca|mas))",
    ),
    # ---- suicide: more ways people say it (second development set) -----------------------------------
    Rule(
        "suicide",
        "attempt",
        "an attempt made",
        r"\b(belt|rope|cord|noose|cable|scarf) (was )?around (my|his|her) neck"
        r"|\b(cinturon|cuerda|soga|cable) (en|alrededor de) (el|mi|su) cuello"
        r"|\bme (tome|trague) (como|unas|casi|mas de) \d+"
        r"|\b(me|se) (corte|corto|cortaba|cortando) las venas|\bcortar(me|se) las venas",
    ),
    Rule(
        "suicide",
        "plan_intent",
        "a method named",
        r"\b(use|using|turn|turning) (a|his|her|my|the) (gun|pistol|rifle|knife) on (himself|herself|myself)"
        r"|\bme (aviento|tiro|lanzo|arrojo|voy a aventar) (del|de un|de una|de la|al|a la) (puente|edificio|techo"
        r"|azotea|metro|tren|carro|carretera)"
        r"|\bhow many (\w+ ){0,3}(it would take|would it take|does it take|it takes|to die|to overdose)"
        r"|\b(picked|chose|chosen|have|got) (the|a) (spot|place|way) and (the|a) (date|day|time)"
        r"|\b(ya )?decidi (como|cuando|donde)\b|\bya decidi que (es|sera|va a ser) (hoy|esta noche|esta semana|manana|el \w+)\b|\bdecided on (the )?(pills|rope|gun|bridge|method|date|way)"
        r"|\bwaiting for (everyone|everybody|them|him|her) to (leave|go|fall asleep)"
        r"|\b(got|have) the (bridge|spot|place|building|rope|pills|date|day) (picked|chosen|ready|set)"
        r"|\blo (voy a|vamos a) hacer (hoy|esta noche|manana|ya)\b|\bya no voy a estar(?=\s*($|[.,!?;]))"
        r"|\b(tried|did) something (stupid|dumb)( with| w)? (pills|a knife|the pills|my meds)?"
        r"|\b(took|swallowed|ate) (them all|all of them)\b|\bthinking (of|about) (killing|ending)(?=\s*($|[.,!?;]|"
        r" without| and| but))|\b(the )?final exit\b|\bcheck(ing)? out (early|for good|permanently)",
    ),
    Rule(
        "suicide",
        "preparatory",
        "affairs put in order",
        r"\b(picturing|imagining|planning|thinking about) my (own )?funeral\b|\bputting (my|all my) affairs in order"
        r"|\bsaying my goodbyes|\bsaid (bye|goodbye|goodbyes) to (everyone|everybody|all|the people)"
        r"|\b(got|get|getting|have|put) (my|all my) affairs in order|\bgave (away )?my (cat|dog|pets?|guitar|xbox"
        r"|car|truck) to|\bnote (\w+ ){0,8}(that says|saying|that said|says) (i am )?(sorry|goodbye|i love)"
        r"|\b(compre|consegui|compro|consiguio) (la|el|una|un) (pistola|cuerda|soga|arma)"
        r"|\bpicked up a (gun|handgun|pistol|rifle|shotgun)|\b(before|when|after) i am (not here|gone|dead|no longer here)|\b(rehome|rehomed|rehoming) (my|the|his|her)"
        r"|\b(make|made|wrote|write|writing) (a|his|her) will\b|\b(hizo|hice|hacer|escribio|escribi|hago) (su|mi)"
        r" testamento|\b(been |keeps? |started )?saying goodbye to (people|everyone|everybody|friends|family|us)",
    ),
    Rule(
        "suicide",
        "passive_wish",
        "wish to be dead",
        r"\b(god|dios) (to )?(just )?(takes?|would take|took|me lleve|se me lleve) me\b"
        r"|\b(take|takes|took) me in my sleep|\bdie in my sleep|\bir(me|se)? con dios|\bque dios me (lleve|recoja)"
        r"|\b(what is|whats) the point of (me |my )?(even )?(being here|living|being alive|existing|life)"
        r"|\bif i (was|were) (not|no longer) (in the picture|around|here|alive|in (their|your|his|her) lives)"
        r"|\b(bus|car|truck|train) (hit|took|takes|would take|would hit) me( out)?\b"
        r"|\b(do not think|not sure) i will be (around|here|alive)"
        r"|\b(want|need|wish) (it|everything|it all|all of it) to (stop|end)(?=\s*($|[.,!?;]| for good| forever))"
        r"|\bno le (encuentra|encuentras) (sentido|caso)"
        r"|\bhope (the|my) (plane|car|bus|train) (goes down|crashes|crash|goes off)|\bojala (se|me) (muera|muriera)"
        r"|\b(god|dios) (would|will|to) (just )?(call|take) (him|her|me) home|\b(have|has) lived too long"
        r"|\b(que|quisiera que) me (atropelle|atropellara|atropellen|mate|matara) (un|el|algo|una)"
        r"|\bojala no despertar|\bcansada de vivir"
        r"|\b(feel like|feeling like|i am|being|i am just|i am such) (such )?a burden\b|\bwould (\w+ ){0,3}without me\b"
        r"|\bnot (deal with anything|wake up|feel anything|be here) ever again|\b(about|of|just) not waking up"
        r"|\bnever waking up|\b(no quiero|ya no quiero) estar (en este mundo|viv[oa])",
    ),
    # ---- harm to others ------------------------------------------------------------------------
    Rule(
        "harm_others",
        "threat",
        "a threat to hurt someone",
        rf"\b{INTENT}( to)? {ADVERB}{HARM_VERB} {PERSON}\b{NOT_A_PERSON}",
    ),
    Rule(
        "harm_others",
        "threat",
        "a threat to hurt someone",
        r"\b(shoot|shooting|shot) up (the|my|a|his|her|that) (school|work|office|church|place|mall|party)"
        r"|\b(list|names) of (\w+ ){0,4}(he|she|i|they) (wants?|plans?|is going|want|plan) to (hurt|kill|shoot)"
        r"|\b(make|making|made) (him|her|them|\w+|my \w+)( all)? (pay|regret)( it| for it| for this)?\b"
        rf"|\b(he|she|they|{PERSON}) (is|are) (going to|gonna) (pay|regret)"
        r"(?!\s*(for|the|a|my|it|you|\d|back|off|cash|in|with|out|by|\$))"
        r"|\bsnap and (hurt|kill|attack|hit)\b|\bbeat (him|her|them) (until|up)|\b(gonna|going to|will) beat (him|her|them|my \w+)",
    ),
    Rule(
        "harm_others",
        "threat",
        WEAPON_CUE,
        r"\b(have|got|bought|grabbed|holding|took|with|carrying|keep|keeps|brought|loaded) (a|my|the|his|her|an)"
        r" (gun|knife|bat|machete|rifle|pistol|gas cans?|weapon|axe|hammer|shotgun|ar|ar 15)\b(?! (set|license|permit|safe|lock|class|range|show|store|question|owner))"
        r"|\b(knife|gun|bat|machete) (by|under|next to) (the|my) (bed|pillow)|\bbought gas cans",
    ),
    Rule(
        "harm_others",
        "threat",
        "a threat to hurt someone",
        r"\b(quiero|quisiera|voy a|vas a|va a|van a|vamos a|tengo ganas de|ganas de|pienso en|pensando en"
        r"|planeo|amenaza con|amenazo con|pensamientos de) "
        + ES_HARM
        + r"( a| al| a la| a mi| a su| a mis| a sus)?\b(?! (de|con|el tiempo))"
        r"|\ble (voy|va|vamos) a (meter|dar|partir|romper|clavar|sacar|volar) (un |una |la |el )?"
        r"(cuchillo|tiro|balazo|madre|madrazo|cara|plomazo|navajazo|putiza|golpiza|sesos)"
        r"|\b(lo|la|los|las|te) (voy|vamos|va|van) a (matar|madrear|golpear|apunalar|quemar)"
        r"|\b(ya )?(saco|agarre|agarro|tengo|traigo|trae) (el|la|un|una|mi) (machete|cuchillo|pistola|bat|arma)"
        r"|\bmatar a (mi|su|el|la|los)|\bhacerle dano a\b",
    ),
    Rule(
        "harm_others",
        "threat",
        "a threat to hurt someone",
        r"\bi know where (he|she|they|you) (lives?|works?|sleeps?|stays)|\bya se donde (vive|trabaja)"
        r"|\bwhat i would do to (her|him|them)|\bkeep my hands off (him|her|them|my \w+)"
        r"|\b(shook|shake|shaking) (him|her|the baby|my \w+) (hard|so hard|until|really hard)"
        r"|\b(bring|take|bringing|taking|brings) a (gun|knife|weapon|rifle|pistol) to (school|work|class|church|the \w+)"
        r"|\b(run|running|ran) (him|her|them|my \w+|that \w+) over\b"
        r"|\b(push|pushing|shove|shoving) (him|her|them|my \w+) (down|off|into) (the )?(stairs|balcony|traffic"
        r"|bridge|wall)|\b(agarrar|agarro|agarrarlo|agarrarla) a golpes|\bhasta (matarlo|matarla|matarlos|que se muera)"
        r"|\bshoot up (the|my|a|his|her|that|our) \w+|\bone more time and (that is it|i will|he is dead|she is dead)"
        r"|\b(burn|set fire to|torch) (the|his|her|their) (\w+ )?(house|building|place|car|apartment)( down)?"
        r"|\b(pictures|drawings|drew|drawing) (of )?(shooting|killing|stabbing) (\w+ )?(classmates|kids|people"
        r"|students|teachers)|\b(llevar|traer|llevo|trajo|lleve) (un|una) (arma|pistola|cuchillo) a la (escuela"
        r"|prepa|secundaria|trabajo)|\b(need|want) (him|her|them) gone\b|\bgot a plan for (the \w+|him|her|them)"
        r"|\b(lo|la|los) (reviento|revientas|mato|parto) a golpes"
        r"|\b(voy|vamos|ire|va) para (alla|alli|su casa) con (el|la|mi) (bate|machete|cuchillo|pistola)\b",
    ),
    # ---- self-harm and its relapse ----------------------------------------------------------------
    Rule(
        "self_harm",
        "relapse",
        "self-harm again",
        r"\b(relapsed?|relapsing|relapses) (on|with|into|and)? ?(self harm|cutting|burning|self injury)"
        r"|\bfirst time (cutting|self harming|hurting myself|burning myself) (in|since)"
        r"|\bslipped up and (cut|burned|hurt|scratched)"
        r"|\b(self harm|cutting|self injury) relapse|\brelaps\w* (\w+ ){0,8}(cutting|self harm|burning)\b"
        rf"|\b(cut|cutting|burn|burning|burned|hurt|hurting|harmed|harming|self harmed|self harming|scratching"
        rf"|hit|hitting|punching) ({SELF} |{OTHER_SELF} )?again\b"
        r"|\b(back to|started|starting|start) (cutting|burning|self harm|self harming|hurting (myself|himself"
        r"|herself))( again)?|\bbroke my (\w+ ){0,3}(streak|clean time)\b"
        r"|\b(me )?volvi a (cortarme|cortar|hacerme dano|lastimarme|quemarme|autolesionarme|rasgu\w+|las cortadas"
        r"|lastimar|cortarse)"
        r"|\botra vez me (corte|lastime|queme|hice dano|rasgune)|\b(se )?volvio a (cortar|lastimar|hacer dano)"
        r"|\b(recai|recaida) (en|con)? ?(las )?(cortadas|autolesiones|cortarme|cortes)",
    ),
    Rule(
        "self_harm",
        "self_harm",
        "self-harm",
        r"\b(me )?(pego|golpeo|rasguno|corto|lastimo|quemo|muerdo|hago dano)( y me \w+)? a proposito"
        r"|\b(hurt|hurting|cut|cutting|burn|burning|hit|hitting|harm|harming)( \w+)? on purpose"
        r"|\bhasta (sangrar|que sangr\w+)|\b(until|and) (it|they|i) (bleed|bleeds|bled|bleeding|started bleeding)",
    ),
    Rule(
        "self_harm",
        "self_harm",
        "self-harm",
        r"\b(cut|cutting|cuts|burn|burning|burned|burnt|hurt|hurting|harm|harming|hit|hitting|punch|punching"
        r"|scratch|scratching|bite|biting|carve|carving|starve|starving|stab|stabbing|beat|beating|bruise"
        r"|bruising|slice|slicing|burns|cuts|hurts|hits|scratches|bites|punches|harms|stabs|starves)"
        rf" ({SELF}|{OTHER_SELF})\b",
    ),
    Rule(
        "self_harm",
        "self_harm",
        "self-harm",
        r"\b(cut|cutting|cuts|slice|slicing|sliced|burn|burning|burned|carve|carving|carved|scratch|scratching"
        r"|scratched) (on |into )?(my|his|her|their) (arms?|wrists?|thighs?|legs?|stomach|belly|hips?|skin|body"
        r"|chest|ankles?)"
        r"|\b(been|keep|keeps|started|am|is|was|still) cutting\b(?! (back|down|out|class|school|the|my|his|her"
        r"|hair|carbs|costs|ties|it|corners|grass|wood|onions|classes|sugar|coupons|in line))"
        r"|\b(carve|carving|carved|cut|cutting|scratch\w*) (\w+ ){0,2}into (my|his|her) (skin|arms?|legs?|wrists?|thighs?)"
        r"|\b(cuts|scars|burns|marks|cortadas|cortes|heridas) (on|all over|en) (my |his |her |their |mis |sus"
        r" |los |las )?(\w+ )?(arms|legs|thighs|wrists|brazos|piernas|munecas)"
        r"|\b(hit|hitting|bang|banging|banged|slam|slamming|slammed) my head (against|on|into) (the )?(wall"
        r"|floor|door)|\bdoes it to feel (better|something)|\bonly way i (can )?feel",
    ),
    Rule(
        "self_harm",
        "self_harm",
        "self-harm",
        r"\b(?<!\bse )(cortarme|me corto|me corte|me estoy cortando|me sigo cortando|cortandome|me hice cortadas|me hago"
        r" cortadas|hacerme dano|me hago dano|me hice dano|me lastimo|lastimarme|me lastime|quemarme|me quemo"
        r"|me queme|autolesionarme|me autolesiono|me rasguno|se corta|se esta cortando|se hace cortadas"
        r"|se lastima|se hace dano|se quema|me estoy lastimando|me hago cortes)\b(?! (en|con) (la|el|mi)"
        r" (rodilla|tobillo|espalda|pie|dedo|mano)| (el|mi|la|las|los) (pelo|cabello|dedo|flequillo|fleco|unas"
        r"|barba|mano))",
    ),
    Rule(
        "self_harm",
        "self_harm",
        "self-harm",
        r"\b(self harm\w*|self injur\w*|autolesi\w+|self mutilat\w*)",
        topic=True,
    ),
    Rule(
        "self_harm",
        "relapse",
        "self-harm again",
        r"\b(have not|had not) (done it|cut|self harmed|hurt myself)( \w+){0,3},? (but|until) (i|and i) (did|do|cut)"
        r"|\b(reset|back to) (my )?(counter|streak|clean time) (to )?(day )?(0|zero)\b"
        r"|\b(habit|urges?) (came|is|has come|are) back\b|\bstarted again (friday|monday|\w+day|last|this)"
        r"|\b(my|the) streak is (gone|over|broken)|\bback to the (blade|razor)|\b(and|but) i (broke|ruined|lost) (it|my streak)"
        r"|\b(cortadas|cortes|heridas) (nuevas|nuevos|frescas|frescos)|\ble vi cortadas",
    ),
    Rule(
        "self_harm",
        "self_harm",
        "self-harm",
        r"\bme (pego|golpeo|doy golpes|doy cabezazos)( \w+){0,3} (contra|en) (la|el) (pared|piso|puerta)"
        r"|\b(se|me) (rasguna|rasguno|corta|corto) (las|los|mis|sus) (piernas|brazos|munecas|muslos)"
        r"|\b(me )?he estado (cortando|lastimando|quemando)|\bcon una (navaja|cuchilla)"
        r"|\b(using|use|used|uses) (a |my |the |her |his )?(razor|blade|razor blade|navaja|cuchilla)"
        r"|\b(punch|punching|hit|hitting|slap|slapping) (\w+ ){1,4}my (own )?(face|head)"
        r"|\b(covered in|full of|lots of) (fresh |new )?(cuts|scars|burns|cortadas)"
        r"|\bcut (\w+ ){0,2}(pretty |really |too |so |very )?deep\b"
        r"|\b(burned|burnt|cut|hurt|hit|scratched)( \w+){1,5} on purpose|\b(does|did|doing|do) it on purpose|\bburns on (my|his|her) (\w+ )?(forearms?|arms?|legs?|wrists?)"
        r"|\bbloody (tissues|towels|sheets)|\bblades? (in|under) (her|his|my) (room|bed|drawer)",
    ),
    # ---- abuse and neglect --------------------------------------------------------------------------
    Rule(
        "abuse",
        "abuse",
        "being hurt by someone",
        rf"\b{VIOLENT} me\b(?! (up|a text|back|know|if you|to|into (therapy|it|going)|really|hard|harder|so hard"
        r"|with a (pillow|ball|snowball|nerf)))",
    ),
    Rule(
        "abuse",
        "abuse",
        "someone being hurt",
        rf"\b{PERPETRATOR} (\w+ ){{0,2}}?{VIOLENT} {VICTIM}\b(?! (really|hard|harder|so hard|too hard|to\b))",
    ),
    Rule(
        "abuse",
        "abuse",
        "someone being hurt",
        r"\b(is|was|been|being|got|gets|getting|keeps getting) (being )?(abused|molested|raped|beaten|beat up"
        r"|assaulted|choked|strangled|hit|touched|neglected)\b(?! by (a|an|the) )",
    ),
    Rule(
        "abuse",
        "abuse",
        "a threat to hurt them",
        r"\b(he|she|they|my \w+|\w+) (said|says|told me|tells me|threaten\w*|swore|keeps saying|yells)( that)?"
        r" (he|she|they)?( is| will| would| was| is going to| was going to| going to)? ?(kill|hurt|beat|hit"
        r"|murder|shoot|take the kids|take my kids)( me| us| again)"
        r"|\bthreaten(s|ed|ing)? to (kill|hurt|beat|shoot) (me|us|my \w+)"
        r"|\bif i (ever )?(leave|tell|call|go)( \w+){0,3},? (he|she|they|hell|shell|theyll) ((will|would|is going to|said) )?(kill|hurt)",
    ),
    Rule(
        "abuse",
        "abuse",
        "someone being hurt",
        r"\b(forces?|forced|forcing|makes?|made|making|pressur\w+) (me|him|her|them) (to )?(have sex|do sexual"
        r"|do things|do stuff|touch|watch porn|sexual)|\b(comes|came|coming|come) (into|in to|in) (my|your|her|his) room"
        r"|\b(molest(ed|ing|s|er|ers|ation)?|raped?|rapes|raping|sexual(ly)? (abus\w+|assault\w*))\b"
        r"|\b(will not|does not|never) let me (leave|go out|see|talk to|have|work|use|out)"
        r"|\b(checks|took|takes away|controls?) my (phone|paycheck|money|car keys|keys|passport|cards?)"
        r"|\b(put|sent|landed) (her|him|me|my \w+) in (the )?(hospital|er|icu)"
        r"|\b(scared|afraid|terrified) (to go|of going|to be) (back )?home"
        r"|\b(flinch|flinches|flinched|flinching|cowers|shakes|freezes) (when|whenever|around) (the|her|his|that)"
        r" (\w+ )?(aide|caregiver|nurse|attendant|cuidadora?|enfermer[oa])"
        r"(?! (late|at night|alone|in the dark|after dark|because of the (bus|traffic|weather|roads)))"
        r"|\b(not|do not feel|never feel|dont feel) safe (at|in my|in the)? ?(home|house|with (him|her))",
    ),
    Rule(
        "abuse", "abuse", "someone being hurt", r"\b(abused|abusing|abusive|domestic violence)\b", topic=True
    ),
    Rule(
        "abuse",
        "abuse",
        "neglect",
        r"\b(left|leaves|leave|leaving|deja|dejan|dejaba|dejaron) (\w+ ){0,4}?(alone|solos?|solas?)( \w+){0,2}"
        r" (for days|overnight|all (day|night|weekend)|without|with no|sin|por dias)"
        r"|\bsin comer (por|en) dias|\bwithout (food|eating|water) for days|\bno food for days"
        r"|\b(eating|comiendo) (out of|de) (the )?(trash|basura)|\bkeeps? (her|him|them) locked"
        r"|\bcrying for (water|food)|\b(bedsores?|bed sores?|llagas)\b|\bdirty (sheets|diapers?) for days"
        r"|\b(dejan|deja|dejaron|dejaba) a (mi|su|sus|mis|los|la|el) (\w+ ){0,2}sin (comer|medicinas|comida"
        r"|medicamentos)",
    ),
    Rule(
        "abuse",
        "abuse",
        "money taken",
        r"\b(steals?|stole|stealing|taking|takes|took) (money |things |stuff )?from (me|her|him|my \w+)\b"
        r"|\b(not|never) (bathe|bathes|bathed|change|changes|changed) (me|her|him)\b"
        r"|\bme controla (el dinero|el telefono|todo|mi dinero)"
        r"|\b(not|never) (give|gives) (me|her|him|them) (my|her|his|their) (medicine|meds|medication|food|insulin)"
        r"|\btienen? encerrad[oa]s?|\b(la|lo|los|las) encierran?\b"
        r"|\b(not|never) (feed|feeds|fed|feeding) (me|her|him|them|the kids|my \w+)\b|\btakes all (my|her|his) money"
        r"|\b(took over|steals?|stole|stealing|drained|emptied|cleaned out|cashes|cashing) (\w+ ){0,2}?(bank"
        r" account|pension|social security|savings|ss checks?|checks|money)"
        r"|\b(se queda|se quedo|se quedan|me quita|le quita|se gasta|se roba|se robo) (con )?(mi|su|el|la)"
        r" (pension|dinero|cheque|seguro social|tarjeta)",
    ),
    Rule(
        "abuse",
        "abuse",
        "being hurt by someone",
        r"\b(?<!\bse )(me|nos|le|les|la|lo|los) (pega|pegan|pegaba|pegaban|golpea|golpean|golpeo|golpeaba"
        r"|maltrata|maltrataba|maltrato|viola|violo|violaba|abusa|abusaba|ahorca|ahorco|patea|pateo|quema"
        r"|amenaza|cachetea|jalonea|empuja|empujo|encierra|obliga|obligo)\b"
        r"|\b(?<!\bse )me pego\b"
        r"|\b(me|nos|le|la|lo) (ha|han|habia) (pegado|golpeado|violado|abusado|maltratado|tocado|ahorcado)"
        r"|\b(mi \w+|un \w+|una \w+|el|ella|su \w+) (me|lo|la|le) (toca|toco|tocaba|manosea\w*)\b"
        r"|\babus(a|o|aba) de (mi|ella|el|los|las)|\babuso sexual\b"
        r"|\b(golpea|golpeaba|golpean|pega|pegaba|pegan|maltrata|maltrataba|ahorca|patea|viola|violo|abusa de)"
        r" a (mi|su|sus|mis|la|el|los) \w+"
        r"|\b(dijo|dice|amenaza|amenazo|me amenaza)( que| con)( si \w+ \w+)? ?(me (mata|va a matar)|matarme"
        r"|quitarme a mis hijos)|\bsi (lo|la) dejo (me|nos) (mata|va a matar)"
        r"|\b(la|lo|me) (mando|mandaron|mandan) al hospital"
        r"|\b(miedo|asustad[oa]|terror) (de )?(ir|regresar|llegar|volver) a (la |mi )?casa"
        r"|\bno (estoy|me siento) segur[oa] en (mi |la )?casa|\b(violencia domestica|relacion (violenta|abusiva))",
    ),
    Rule(
        "abuse",
        "abuse",
        "someone being hurt",
        r"\b(throw|throws|throwing|threw) (her|him|me|us) (against|into|down|across|at)"
        r"|\b(black eye|busted lip|belt marks|marks from (a|the|his|her) belt)"
        rf"|\b{PERPETRATOR} (\w+ ){{0,2}}?broke (her|my|his) (arm|wrist|nose|jaw|ribs?|finger)"
        r"|\b(he is|she is|he will be|she will be) (taking|going to take) (the|my) kids|\bnever see (them|the kids|my kids)"
        r" again|\b(forced|forces) (himself|herself) on (me|her|him)|\b(put|puts|had|has) (his|her) hands? (on|around)"
        r" (my|her|his) (neck|throat)|\bput (his|her) hands on (me|her|him)\b|\b(agarro|agarra|apreto|aprieta"
        r"|ahorco|ahorca) (del|el) cuello|\bhasta (que|q) no (podia|puedo|pudo) respirar|\b(is|was|gets|got) rough with (him|her|me)"
        r"|\b(held|holds|put|puts|pressed) (his|her|my) (hand|arm|face|head) (on|against|under|in) (the )?(stove"
        r"|iron|burner|hot|wall)|\b(put|held|pressed) (my|his|her) \w+ (hand|arm|face) (on|against|in) (the )?(stove"
        r"|iron|burner)|\b(her|his|my) (dad|mom|father|mother|stepdad|stepmom|uncle) does it\b"
        r"|\b(asking|asks|asked|keeps asking|wants|pressuring) (me|her|him|my \w+) (for|to send) (\w+ )?(pics"
        r"|pictures|nudes|photos|fotos)|\b(post|share|send|leak) the (ones|pics|pictures|nudes|photos)"
        r"|\b(it is|its|is) (our|their) (little )?secret|\bkeep (it|this) (a )?secret from|\bsit on his lap"
        r"|\b(videos|fotos|cosas) (feos|feas|sucios|sucias|de adultos)"
        r"|\b(shows|showed|showing) (me|her|him|them) (porn|dirty|adult)",
    ),
    Rule(
        "abuse",
        "abuse",
        "money taken",
        r"\b(taking|took|takes|stealing|steals|stole|draining|drained|withdrawing|withdrew) (\w+ ){0,2}?(money|cash"
        r"|funds) (out of|from) (her|his|my|their) (\w+ )?(account|bank|savings|card)"
        r"|\b(taking|takes|took) (my|her|his) (social security|pension|ss check|disability check)(?! (card|number))",
    ),
]


class PhraseTableError(ValueError):
    """A rule does not compile, or does not start at a word (raised at import: the app does not start)."""


@dataclass(frozen=True, slots=True)
class Compiled:
    """A rule ready to search: its regex, and the literal strings it cannot match without (one of them
    must be in the text; None when the pattern promises none)."""

    rule: Rule
    regex: re.Pattern[str]
    needles: frozenset[str] | None


# compile_table reads each rule's needs off re's own parse tree (no public API, no stubs: typed Any)
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")
ParseTree = Iterable[tuple[Any, Any]]  # re._parser's output: (opcode, argument) pairs
ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}
MAX_SPELLINGS = 256
MIN_NEEDLE = 4


def exact(nodes: ParseTree) -> set[str] | None:
    """Every string a parsed sequence can match, when that is a small finite set (else None)."""
    out = {""}
    part: set[str] | None
    for op, av in nodes:
        if op in ZERO_WIDTH:
            continue
        if op is _c.LITERAL:
            part = {chr(av)}
        elif op is _c.SUBPATTERN:
            part = exact(av[-1])
        elif op is _c.BRANCH:
            branches = [exact(b) for b in av[1]]
            part = None if any(b is None for b in branches) else {x for b in branches if b for x in b}
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            low, high, inner = av
            once = exact(inner) if high == 1 else None
            part = None if once is None else once | ({""} if low == 0 else set())
        elif op is _c.IN and all(o is _c.LITERAL for o, _ in av):
            part = {chr(v) for _, v in av}
        else:
            part = None
        if part is None or len(out) * len(part) > MAX_SPELLINGS:
            return None
        out = {a + b for a in out for b in part}
    return out


def required(nodes: ParseTree) -> set[str] | None:
    """Strings one of which every match of a parsed sequence contains (None: it promises none).

    The sequence becomes stretches of exactly known pieces (a literal run, a group of literal
    alternatives) between open-ended ones; any run of consecutive known pieces is a candidate (all its
    spellings), and so is whatever an open-ended piece itself requires. The best candidate is the one
    with the fewest strings of at least MIN_NEEDLE characters: each string costs one substring search."""
    candidates: list[set[str]] = []
    stretch: list[set[str]] = []

    def close_stretch() -> None:
        for i in range(len(stretch)):
            run = {""}
            for piece in stretch[i:]:
                if len(run) * len(piece) > MAX_SPELLINGS:
                    break
                run = {a + b for a in run for b in piece}
                candidates.append(run)
        stretch.clear()

    for op, av in nodes:
        if op in ZERO_WIDTH:
            continue
        piece = exact([(op, av)])
        if piece is not None:
            if op is _c.LITERAL and stretch and len(stretch[-1]) == 1:
                stretch[-1] = {next(iter(stretch[-1])) + chr(av)}  # one literal run, one piece
            else:
                stretch.append(piece)
            continue
        close_stretch()
        if op is _c.SUBPATTERN:
            candidates.append(required(av[-1]) or {""})
        elif op is _c.BRANCH:
            branches = [required(b) for b in av[1]]
            candidates.append({""} if any(not b for b in branches) else {x for b in branches if b for x in b})
        elif (op is _c.MAX_REPEAT or op is _c.MIN_REPEAT) and av[0] >= 1:
            candidates.append(required(av[2]) or {""})
    close_stretch()
    usable = [c for c in candidates if c and "" not in c]
    if not usable:
        return None

    def worth(c: set[str]) -> tuple[bool, int, int]:
        shortest = min(map(len, c))
        return (True, -len(c), shortest) if shortest >= MIN_NEEDLE else (False, shortest, -len(c))

    return max(usable, key=worth)


def compile_table(rules: list[Rule]) -> list[Compiled]:
    """Check every rule on its own, naming a broken one, and work out the strings each one needs: a rule
    is only searched in a text that holds one of them, so an ordinary text pays for a handful of rules,
    not all of them (a necessary condition read off the pattern itself, so it never hides a match)."""
    table = []
    for i, rule in enumerate(rules):
        try:
            regex = re.compile(rule.pattern)
        except re.error as exc:
            raise PhraseTableError(f"risk rule {i} ({rule.category}) does not compile: {exc}") from exc
        if not rule.pattern.startswith(r"\b"):
            raise PhraseTableError(f"risk rule {i} ({rule.category}) must start at a word: begin it with \\b")
        needles = required(_parser.parse(rule.pattern))
        table.append(Compiled(rule, regex, frozenset(needles) if needles else None))
    return table


TABLE = compile_table(RULES)


def cues(masked: str) -> list[tuple[int, int, Rule]]:
    """Where rules match in a normalised, masked text: (start, end, rule), left to right, none
    overlapping; where two rules match at one place, the earlier rule in `RULES` wins (the list runs
    from the most specific to the most general)."""
    hits: list[tuple[int, int, int]] = []
    for order, entry in enumerate(TABLE):
        if entry.needles is not None and not any(n in masked for n in entry.needles):
            continue
        hits.extend((m.start(), order, m.end()) for m in entry.regex.finditer(masked))
    hits.sort()
    out, reached = [], -1
    for start, order, end in hits:
        if start >= reached:
            out.append((start, end, TABLE[order].rule))
            reached = end
    return out


# --- 4. the context a cue is read in -------------------------------------------------------------

CLAUSE_BREAK = re.compile(r"[.!?;,:\n]|\.\.\.| but | pero | aunque | though | except |~")
SENTENCE_BREAK = re.compile(r"[.!?;\n]")

NEGATION = re.compile(
    r"\b(no|not|never|nobody|none|nadie|nunca|tampoco|denies|denied|deny|denying|nothing|sin|without|ni"
    r"|negative (for|on)|negativ[oa] (para|en))\b"
    r"(?! (longer|one would|more|mas|sure|even|reason|point|way|matter|idea|puedo|aguanto|know|stop|worth|think|care"
    r"|le encuentro|encuentro|tiene sentido|hay razon|joke|going to lie|lie))"
)
NEGATION_WINDOW = 6  # words before a cue that can deny it ("i answered no to all the self harm ...")

PAST = re.compile(
    r"\b(\d+|a|one|a few|few|many|several|some|two|three|four|five|ten|twenty) (years?|yrs?|decades?) ago"
    r"|\b(a long time|long) ago\b|\byears ago\b|\b(back )?in (19|20)\d\d\b|\ben (19|20)\d\d\b"
    r"|\bhace (mucho|anos|muchos anos|\d+ anos|tiempo|un par de anos|varios anos)"
    r"|\bwhen i was (little|young|a kid|a child|small|a teen|a teenager|growing up|in (high|middle|grade)"
    r" school|\d+)|\bgrowing up\b|\bas a (kid|child|teen|teenager)\b|\bbefore i was born\b"
    r"|\bde (chiquit[oa]|nin[oa]|pequen[oa]|chic[oa])\b|\bcuando (era|estaba) (nin[oa]|chic[oa]"
    r"|chiquit[oa]|joven|pequen[oa])|\bused to\b|\bhave not (in|since)\b|\bin recovery\b"
    r"|\b(now|ahora|ahorita|ya) (i am |estoy )?(stable|estable|remarried|sober|doing (well|better))"
    r"|\bin my (teens|twenties|thirties|20s|30s)\b|\bin the (\d0s|nineties|eighties|seventies)\b|\bgrew up\b"
    r"|\bin (middle|high|grade) school\b|\bin college\b|\bi am \d+ now\b|\bdead (for )?\d+ (years?|yrs?)"
    r"|\b(is|she is|he is|i am|they are) doing (great|well|fine|better) now|\bcuando (yo )?(era|estaba) "
    r"|\bya estoy (bien|estable|separad[oa]|a salvo|segur[oa])|\b(i am|i have been) (safe|separated|divorced|out) (now|for)"
    r"|\bnow (i am )?safe\b|\ben un lugar seguro\b|\b\d+ (years?|yrs?) (since|clean|free|without)|\b(he|she|who) (is )?passed( away)?\b|\bya (fallecio|murio)\b"
)
BEREAVEMENT = re.compile(
    r"\b(died|passed away|fallecio|murio|lost (my|our|her|his)|perdi|perdimos|funeral|anniversary)\b"
)
SERVICE = re.compile(
    r"\b(do|does|can|could|would) (you|your|any( of your)?|the (practice|clinic|office)|they|insurance"
    r"|medicaid|medicare)\b|\b(is|are) there (a|any)\b|\bwhat is the difference|\bwhats the difference"
    r"|(^|[.,!?;]\s*)(hola,? |oigan,? |disculpe,? |also |and |so |hi,? )?(tienen|hay|dan|aceptan|ofrecen"
    r"|atienden|manejan|trabajan con|ven|cubre|cubren)\b"
    r"|\b(looking for|need|want|searching for|find) (a |an |some )?(therapist|counselor|group|program"
    r"|clinician|provider|treatment|therapy|support)\b"
    r"|\b(refer|referral|referrals|refers|referring)\b|\bbusco (terapia|terapeuta|ayuda|grupo|consejeria)"
    r"|\bustedes (ven|tratan|atienden|manejan)\b|\bcasos de\b|\bcuanto cuesta\b"
    r"|\b(what happens|would you|will you|do you) (if|when) i (tell|told|say|said|mention|admit)"
    r"|\bif i (tell|told|say|said|mention|admit|report) (you|my|the|a) (therapist|doctor|counselor|psychiatrist)"
    r"|\b(for|para) (teens|kids|children|students|families|people|survivors|adolescentes|familias|ninos"
    r"|jovenes|victims|victimas|clients|patients|parents|padres) ?(who|that|que|with|con|of|de)?\b"
    r"|\b(treat|treats|treating|treatment for|specialize in|experience with|works? with|tratan)\b"
    r"|\b(training|workshop|handout|platicas?|taller|class|classes|clases|programa?)\b"
    r"|\b(if|what if|si) (a|an|un|una) (child|kid|client|patient|student|nin[oa]|menor|paciente|cliente"
    r"|alumn[oa]|teen)\b|\b(would|do) you (have to )?report\b|\btiene que reportar\b"
)
MEDIA = re.compile(
    r"\b(news|episode|(?<!at the )(?<!gun )show|series|movie|film|documentary|novel|novela|pelicula|podcast|book|video ?game"
    r"|videojuego|fortnite|game of thrones|villain|this game|that game|the game he|the game she|rewatch|13 reasons why|report on|school report|project|proyecto|tarea"
    r"|homework|essay|article|noticias|serie|posted about|character|protagonist|protagonista|song|lyrics"
    r"|horror|thriller|netflix|tiktok video|youtube)\b"
)
ACCIDENT = re.compile(
    r"\b(cooking|stove|oven|fell|fall|falling|slipped(?! up)|tripped|accident|accidentally|by accident|sin querer"
    r"|glass|vidrio|shaving|package|bike|ice|stairs|dog|cat|lavando|cocinando|trastes|gym|workout|playing"
    r"|soccer|football|basketball|practice|jugando|futbol|me cai|se cayo|sports?|hiking|working out"
    r"|stitches|puntos|headache|dolor de|para el dolor|for my (headache|back|pain)|haciendo|cena|cocina|picando|cabinet|shelf|counter|bumped)\b"
)
DISPUTED = re.compile(
    r"\b(accus\w+|is not true|not true|falsely|false (claim|report)s?|lying about|custody battle)\b"
)
LAUGHTER = re.compile(r"\b(lol|lmao|lmfao|haha\w*|jaja\w*|jk|just kidding)\b|😂|🤣|😆")
ON_PURPOSE = re.compile(r"\b(on purpose|a proposito|intentionally|to feel)\b")
TIMING = re.compile(
    r"\b(tonight|today|tomorrow|this weekend|this (morning|afternoon|evening)|right now|after (work|my shift"
    r"|school|everyone|my roommate)|when (everyone|they|my \w+) (is|are|leaves?|goes|go)|on (monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday)|a date|i know how|figured out how|esta noche|manana"
    r"|ahorita|cuando se duerman|ya se como)\b"
)
ABOUT_OTHER = re.compile(
    r"\b(he|she|they|him|his|himself|herself|themselves|dijo|dice|conto"
    r"|se (va|quiere|tomo|trago|corta|esta|hace|intento|trato|quiso|lastima|quema|volvio)"
    r"|my (son|daughter|kid|child|teen|husband|wife|partner|boyfriend|girlfriend|mom|mother|dad|father"
    r"|brother|sister|friend|nephew|niece|neighbou?r|cousin|grandma|grandpa|\d+ ?yo)"
    r"|mi (hijo|hija|esposo|esposa|pareja|novio|novia|mama|papa|hermano|hermana|amig[oa]|sobrin[oa]"
    r"|vecin[oa]|abuel[oa]|niet[oa]|nino|nina))\b"
)
FIRST_PERSON_VICTIM = re.compile(r"\b(me|us|nos|i am|i was|i have been|myself|mi)\b")
ELDER = re.compile(
    r"\b(grandma|grandpa|grandmother|grandfather|grandmas|grandpas|abuela|abuelo|nursing home|asilo"
    r"|my grandson|my granddaughter|mi nieto|mi nieta"
    r"|caregiver|cuidadora?|pension|social security|bedsores|bed sores|llagas|elderly|elder|dementia"
    r"|is [6-9]\d|tengo [6-9]\d|[6-9]\d (years old|yo|anos)|i am [6-9]\d|crying for water)\b"
)
CHILD_PERPETRATOR = re.compile(
    r"\b(dad|father|stepdad|stepfather|step dad|mom|mother|stepmom|stepmother|step mom|moms boyfriend"
    r"|uncle|aunt|coach|teacher|babysitter|nanny|cousin|papa|padrastro|madrastra|tio|tia|maestr[oa]"
    r"|entrenador|primo|prima|i am 1\d|tengo 1?\d|\d+ ?yo|hermanitos)\b"
)
PARTNER = re.compile(
    r"\b(boyfriend|girlfriend|husband|wife|partner|ex|fiance|fiancee|spouse|novio|novia|esposo|esposa"
    r"|pareja|marido|anda con|sale con|dating|if i leave|si lo dejo|si la dejo|paycheck|car keys"
    r"|checks my phone|when he drinks|cuando toma|have sex|tener relaciones)\b"
)
CHILD_VICTIM = re.compile(
    r"\b(my (son|daughter|kid|child|children|kids|nephew|niece|baby|toddler|grandson|granddaughter"
    r"|stepson|stepdaughter)|\d+ ?yo|mi (hijo|hija|nino|nina|hijos|sobrin[oa]|niet[oa]|bebe)|kids|ninos"
    r"|children|hijos|chiquito|neighbors kids|vecina deja)\b"
)

# The second opinion's thresholds (its probability), chosen across writers: weights trained on one
# writer's development texts, read with rules tuned on them, on the other writer's (docs/safety.md).
VETO = 0.1
# A veto needs words around the cue that could explain it away: a text of fewer words ("me quiero
# morir") is all cue, and a doubt about the cue's own words is where the alarm wins. (The development
# sets' idioms, "me quiero morir de la verguenza", taught the second opinion to doubt the bare words.)
VETO_CONTEXT = 5
FLAG = 0.9
LEARNED_CUE = "reads like crisis texts, though no rule names it"

# How severe a level is: the most severe finding in a text is the one reported.
SEVERITY = {
    "unclear": 1,
    "attempt": 10,
    "plan_intent": 9,
    "preparatory": 8,
    "threat": 7,
    "child": 6,
    "partner": 6,
    "elder": 6,
    "abuse": 5,
    "active_thoughts": 4,
    "relapse": 3,
    "self_harm": 3,
    "passive_wish": 2,
}


@dataclass(frozen=True, slots=True)
class Assessment:
    """Why a text reads as risk: category, level screened for, the rule's fixed cue, whose risk."""

    category: str
    level: str
    cue: str
    about: str


def negated(before: str) -> bool:
    """A denial in the few words just before a cue, in its own clause ("no thoughts of", "nunca me")."""
    window = " ".join(before.split()[-NEGATION_WINDOW:])
    return NEGATION.search(window) is not None


def abuse_level(text: str) -> str:
    """Whose abuse it reads as: an older adult's, a child's, a partner's, or (unsaid) plain abuse."""
    if ELDER.search(text):
        return "elder"
    if CHILD_PERPETRATOR.search(text):
        return "child"
    if PARTNER.search(text):
        return "partner"
    if CHILD_VICTIM.search(text):
        return "child"
    return "abuse"


class Reading:
    """One message being read: its normalised, masked text, where its clauses and sentences break
    (found once, so a long text full of cues costs linear time), and what holds for the whole text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.clauses = [(m.start(), m.end()) for m in CLAUSE_BREAK.finditer(text)]
        self.sentences = [(m.start(), m.end()) for m in SENTENCE_BREAK.finditer(text)]
        self._media: bool | None = None
        self._abuse: str | None = None

    def span(self, start: int, end: int, *, sentence: bool = False) -> tuple[int, int]:
        """The clause (or sentence) around [start, end): from the break before it to the break after."""
        breaks = self.sentences if sentence else self.clauses
        i = bisect_right(breaks, (start, start))  # breaks starting at or before the cue's start
        left = breaks[i - 1][1] if i and breaks[i - 1][1] <= start else 0
        j = bisect_left(breaks, (end, end))
        right = breaks[j][0] if j < len(breaks) else len(self.text)
        return left, right

    @property
    def media(self) -> bool:
        """Does the text speak of a film, a show, a game or homework anywhere?"""
        if self._media is None:
            self._media = MEDIA.search(self.text) is not None
        return self._media

    @property
    def abuse_level(self) -> str:
        """Whose abuse the text reads as: an older adult's, a child's, a partner's, or plain abuse."""
        if self._abuse is None:
            self._abuse = abuse_level(self.text)
        return self._abuse

    def explained_away(self, rule: Rule, start: int, end: int) -> bool:
        """True when the cue's context says it is not acute risk: denied, long past, a question about
        services, a film or homework, an accident, or (for a topic word) a death in the family."""
        text = self.text
        c_left, c_right = self.span(start, end)
        s_left, s_right = self.span(start, end, sentence=True)
        clause, sentence = text[c_left:c_right], text[s_left:s_right]
        if negated(text[c_left:start]):
            return True
        if PAST.search(sentence) and rule.level != "relapse":  # a relapse is measured from the past
            return True
        if SERVICE.search(text[c_left:start]) or (rule.topic and SERVICE.search(sentence)):
            return True
        if MEDIA.search(clause) or (rule.topic and self.media):
            return True
        if rule.topic and (BEREAVEMENT.search(sentence) or DISPUTED.search(sentence)):
            return True
        if rule.category == "harm_others" and LAUGHTER.search(sentence):
            return True
        return (
            rule.category == "self_harm"
            and ACCIDENT.search(clause) is not None
            and not ON_PURPOSE.search(clause)
        )

    def whose(self, rule: Rule, start: int, end: int) -> str:
        """'self' when the writer is the one at risk (for abuse: the one hurt), 'other' when they report
        someone else's risk."""
        if rule.category == "abuse":
            return "self" if FIRST_PERSON_VICTIM.search(self.text, start, end) else "other"
        s_left, _ = self.span(start, end, sentence=True)
        return "other" if ABOUT_OTHER.search(self.text, s_left, end) else "self"

    def finding(self, rule: Rule, start: int, end: int) -> Assessment:
        """What one cue that stands says: its category, its level (abuse by whose; thoughts with a time
        or method are a plan), its cue and whose risk it is."""
        level, cue = rule.level, rule.cue
        if rule.category == "abuse":
            level = self.abuse_level
        if level == "active_thoughts":
            s_left, s_right = self.span(start, end, sentence=True)
            if TIMING.search(self.text, s_left, s_right):
                level, cue = "plan_intent", f"{cue}, with a time or method"
        return Assessment(rule.category, level, cue, self.whose(rule, start, end))


def masked_text(body: str) -> str:
    """A message as the rules and the second opinion read it: normalised, benign phrases masked."""
    return mask_benign(normalise(body))


def findings(masked: str) -> list[Assessment]:
    """Every cue in a masked message that its context does not explain away, in the order they appear."""
    reading = Reading(masked)
    return [
        reading.finding(rule, start, end)
        for start, end, rule in cues(reading.text)
        if not reading.explained_away(rule, start, end)
    ]


def most_severe(found: list[Assessment]) -> Assessment:
    """The finding to report: the most severe level; a gun bought or a weapon at hand only aggravates
    what else the text says (a threat first)."""
    best = max(found, key=lambda f: SEVERITY[f.level])
    if best.cue in AGGRAVATING:
        threats = [f for f in found if f.category == "harm_others" and f.cue not in AGGRAVATING]
        others = [f for f in found if f.cue not in AGGRAVATING]
        if others:
            return max(threats or others, key=lambda f: SEVERITY[f.level])
    return best


def assess(body: str | None) -> Assessment | None:
    """The most severe risk a message reads as, or None.

    The rules answer first, unless the second opinion (texting.risk_model) is sure the text reads like
    the ordinary ones (at or below VETO: "negative for thoughts of harming myself" and its kind); a text
    no rule names is flagged when the second opinion is sure it reads like crisis texts (above FLAG) and
    it is not set in the distant past or in a film or game, with its category and the level `unclear`."""
    if not body:
        return None
    masked = masked_text(body)
    found = findings(masked)
    opinion = risk_model.model().probability(masked)
    if found and (opinion > VETO or len(masked.split()) < VETO_CONTEXT):
        return most_severe(found)
    if opinion > FLAG and not PAST.search(masked) and not MEDIA.search(masked):  # the rules' context holds
        whose = "other" if ABOUT_OTHER.search(masked) else "self"
        return Assessment(risk_model.model().category(masked), "unclear", LEARNED_CUE, whose)
    return None


def risk_category(body: str | None) -> str | None:
    """The category of a message's most severe risk (suicide, self_harm, harm_others, abuse), or None."""
    finding = assess(body)
    return finding.category if finding else None
