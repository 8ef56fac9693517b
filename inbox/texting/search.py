"""Search across a practice that keeps ePHI sealed: a keyed blind index of words, names and numbers.

What is stored for a message is one digest per distinct word of its body; for a contact, one per name
word and each of its prefixes of 3+ letters (first, last and guardian names) and one per spelling of its
numbers (the E.164 digits, the 10-digit national number, the last four). Words are folded first (accents
stripped, case folded), so "José" finds "jose". A digest is `crypto.BlindIndex.digest` under the
practice's own key, cut to 16 bytes: nothing readable is stored, and the same word has unrelated digests
in two practices. What a copy of the database does reveal is which rows share a word (frequencies).

The terms are written in the transaction that writes the row they describe (session hooks below: noted at
each flush, written as one multi-row INSERT before the commit), so that a text
is findable the moment it is committed and an interrupted transaction leaves no orphan terms; a body
destroyed by redaction or retention takes its terms with it in the same flush.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, event, exists, func, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, aliased, selectinload

from inbox.crypto import blind_index, phone_digest
from inbox.extensions import db
from inbox.models import Contact, Journey, Message, SearchTerm

WORD, NAME, PHONE = "search.word", "search.name", "search.phone"  # the digests' purposes
DIGEST_BYTES = 16
MIN_QUERY = 2  # characters; a shorter query is refused (it would match nearly everything)
# A longer query is refused: nobody searches a practice's texts with a paragraph, and each word is a
# digest (an HMAC) and a probe of the index (issue 23: 1,500 words froze the process).
MAX_QUERY = 200  # characters
MAX_WORDS = 8  # distinct words and numbers
PREFIX_FROM = 3  # name prefixes from this many letters: "Mar" finds Maria
LIMIT = 50
SNIPPET = 80  # characters around the first word found

_WORD = re.compile(r"[^\W_]+")
# A number as people write one: "(415) 555-0142", "415.555.0142", "+1 415 555 0142", "4155550142", "0142".
_NUMBER = re.compile(r"\+?\d[\d ().-]{2,}\d|\d{4,}")
_IDENTITY_COLUMNS = ("phone_ct", "first_name_ct", "last_name_ct", "guardian_name_ct", "guardian_phone_ct")


def fold(text: str) -> str:
    """Accents stripped and case folded: what both the index and the query are compared in."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> set[str]:
    """The distinct folded words of a text."""
    return set(_WORD.findall(fold(text)))


def number_spellings(e164: str) -> set[str]:
    """How a number can be searched for: all its digits, the national 10 for +1 numbers, the last four."""
    digits = re.sub(r"\D", "", e164)
    spellings = {digits, digits[-4:]}
    if len(digits) == 11 and digits.startswith("1"):
        spellings.add(digits[1:])
    return spellings


def message_terms(body: str) -> set[tuple[str, str]]:
    """A body's terms: its words."""
    return {(WORD, word) for word in words(body)}


def contact_terms(contact: Contact) -> set[tuple[str, str]]:
    """A contact's terms: name words and their prefixes, and the spellings of its numbers."""
    terms: set[tuple[str, str]] = set()
    for name in (contact.first_name, contact.last_name, contact.guardian_name):
        for word in words(name or ""):
            terms.add((NAME, word))
            terms.update((NAME, word[:n]) for n in range(PREFIX_FROM, len(word)))
    for number in (contact.phone, contact.guardian_phone):
        if number:
            terms.update((PHONE, spelling) for spelling in number_spellings(number))
    return terms


def digest(practice_id: int, term: tuple[str, str]) -> bytes:
    """The stored form of one term."""
    purpose, value = term
    return blind_index().digest(practice_id, purpose, value)[:DIGEST_BYTES]


def _rows(practice_id: int, terms: Iterable[tuple[str, str]], **owner: int) -> list[dict[str, Any]]:
    """Term rows for one owner (message_id= or contact_id=), ready for one multi-row INSERT."""
    return [
        {
            "practice_id": practice_id,
            "digest": digest(practice_id, term),
            "message_id": None,
            "contact_id": None,
        }
        | owner
        for term in terms
    ]


def _changed(obj: Any, columns: Iterable[str]) -> bool:
    """Whether any of these columns of a row changed in the flush that just ran."""
    state = sa_inspect(obj)
    return any(state.attrs[column].history.has_changes() for column in columns)


_INSERT_TERMS = insert(SearchTerm)  # built once: every text's terms go through it


def _write(
    session: Any, rows: list[dict[str, Any]], gone_messages: list[int], gone_contacts: list[int]
) -> None:
    """Drop stale terms, then insert the new ones in one statement (Core: no ORM bookkeeping per row)."""
    conn = session.connection()
    if gone_messages:
        conn.execute(delete(SearchTerm).where(SearchTerm.message_id.in_(gone_messages)))
    if gone_contacts:
        conn.execute(delete(SearchTerm).where(SearchTerm.contact_id.in_(gone_contacts)))
    if rows:
        conn.execute(_INSERT_TERMS, rows)


def _index_flushed(session: Session, _context: Any) -> None:
    """After each flush (ids are known, the lists still say what was new or changed): note the terms of
    new messages and contacts, fresh terms for a renamed or renumbered contact, none for a destroyed body.
    They are written once, at commit, so a webhook's several flushes cost one INSERT."""
    rows, gone_messages, gone_contacts = _pending(session)
    for obj in session.new:
        if isinstance(obj, Message):
            note_new_message(session, obj)
        elif isinstance(obj, Contact):
            rows += _rows(obj.practice_id, contact_terms(obj), contact_id=obj.id)
    for obj in session.dirty:
        if isinstance(obj, Message) and obj.body_ct is None and _changed(obj, ("body_ct",)):
            gone_messages.append(obj.id)
            rows[:] = [row for row in rows if row["message_id"] != obj.id]
        elif isinstance(obj, Contact) and _changed(obj, _IDENTITY_COLUMNS):
            gone_contacts.append(obj.id)
            rows[:] = [row for row in rows if row["contact_id"] != obj.id]
            session.info.setdefault("search_contacts", set()).add(obj)  # its terms: at commit


def _pending(session: Session) -> tuple[list[dict[str, Any]], list[int], list[int]]:
    """What this transaction's flushes noted so far: term rows to insert, messages and contacts whose
    terms are gone."""
    return session.info.setdefault("search_terms", ([], [], []))


def note_new_message(session: Session, msg: Message) -> None:
    """Index a new message in this transaction: called by the flush hook, and by whatever writes a
    message outside the unit of work (thread.insert_message, the webhook's hot path)."""
    if msg.body_ct is not None:
        _pending(session)[0].extend(_rows(msg.practice_id, message_terms(msg.body), message_id=msg.id))


def _write_pending(session: Session) -> None:
    """Before the commit: flush what is left, then write the terms the transaction's flushes noted.

    A changed contact's terms come from its row as it will be committed, read again now: this
    transaction's UPDATE holds the row's lock, so the read sees every edit committed before it, which
    the copy this request loaded may not (issue 23: two edits at once, first and last name, left the
    index with one of the old names)."""
    session.flush()
    changed = session.info.pop("search_contacts", set())
    for contact in changed:
        if sa_inspect(contact).persistent:
            session.refresh(contact, attribute_names=_IDENTITY_COLUMNS)
            _pending(session)[0].extend(
                _rows(contact.practice_id, contact_terms(contact), contact_id=contact.id)
            )
    pending = session.info.pop("search_terms", None)
    if pending and any(pending):
        _write(session, *pending)


def _drop_pending(session: Session, *_args: Any) -> None:
    """A rolled-back transaction's terms go with it. (Nothing here uses savepoints; one that did would
    have to drop what its rolled-back part noted.)"""
    session.info.pop("search_terms", None)
    session.info.pop("search_contacts", None)


def init_app(_app: Any) -> None:
    """Keep the index in step with every transaction (once per process)."""
    for name, hook in (
        ("after_flush", _index_flushed),
        ("before_commit", _write_pending),
        ("after_rollback", _drop_pending),
    ):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


# -- reading --------------------------------------------------------------------------------------------


@dataclass
class Query:
    """What a search string asks for: the words every text must hold, and what a contact must match."""

    text: str
    message_terms: set[tuple[str, str]]
    contact_terms: set[tuple[str, str]]
    words: set[str]


class QueryError(ValueError):
    """The search cannot be run as given (too short or too long)."""


def parse(q: str) -> Query:
    """Split a search into its words and number spellings."""
    q = q.strip()
    if len(q) < MIN_QUERY:
        raise QueryError(f"search for at least {MIN_QUERY} characters")
    if len(q) > MAX_QUERY:
        raise QueryError(f"search for at most {MAX_QUERY} characters")
    numbers = [re.sub(r"\D", "", n) for n in _NUMBER.findall(q)]
    rest = _NUMBER.sub(" ", q)
    names = {(NAME, w) for w in words(rest) if not w.isdigit()}
    phones = set()
    for digits in numbers:
        # Eleven digits with the +1 country code, ten national, or the last four: all are stored.
        phones.add((PHONE, digits[1:] if len(digits) == 11 and digits.startswith("1") else digits))
    everything = words(q)
    if len(everything) > MAX_WORDS:
        raise QueryError(f"search for at most {MAX_WORDS} words")
    return Query(q, {(WORD, w) for w in everything}, names | phones, everything)


def _owners(practice_id: int, terms: set[tuple[str, str]], column: Any) -> list[int]:
    """The newest owners (message or contact ids) holding every one of the terms, in one statement.

    parse() allows at most MAX_WORDS terms, so the statement stays small (issue 23: one EXISTS per word
    of a 500-word search took minutes to plan on PostgreSQL).
    """
    if not terms:
        return []
    digests = [digest(practice_id, term) for term in sorted(terms)]
    if column is SearchTerm.contact_id:
        # The lookup index ends in message_id, so a seek per contact row would scan the other term's
        # rows; contacts are few enough to count instead (measured: 1.4 s -> ms at 10 k contacts).
        counted = (
            select(column)
            .where(SearchTerm.practice_id == practice_id, SearchTerm.digest.in_(digests), column.is_not(None))
            .group_by(column)
            .having(func.count(func.distinct(SearchTerm.digest)) == len(digests))
        )
        return list(db.session.scalars(counted.order_by(column.desc()).limit(LIMIT)))
    # Messages are many: walk one term's rows newest first and keep those that have the others too (an
    # index seek each, the first one missing ends the check), stopping at LIMIT, so a common word costs
    # no more than a rare one. Measured at 1 M messages against one IN over the other words counted per
    # message (constant in shape, but it checks every word of every row walked): equal for one or two
    # words, 4-5x slower for eight (docs/benchmarks.md).
    first, *others = digests
    query = select(column).where(
        SearchTerm.practice_id == practice_id, SearchTerm.digest == first, column.is_not(None)
    )
    for other in others:
        also = aliased(SearchTerm)
        query = query.where(
            exists().where(
                also.practice_id == practice_id, also.digest == other, getattr(also, column.key) == column
            )
        )
    return list(db.session.scalars(query.order_by(column.desc()).limit(LIMIT)))


def snippet_around(body: str, found: set[str]) -> str:
    """About SNIPPET characters of the body around the first word searched for."""
    folded = fold(body)
    starts = [m.start() for m in _WORD.finditer(folded) if m.group() in found]
    if not starts or len(body) <= SNIPPET:
        return body[:SNIPPET] + ("…" if len(body) > SNIPPET else "")
    begin = max(0, starts[0] - SNIPPET // 3)
    end = begin + SNIPPET
    return ("…" if begin else "") + body[begin:end].strip() + ("…" if end < len(body) else "")


@dataclass
class Hit:
    """One search result: a journey, and the message in it that matched (None: the contact matched)."""

    journey: Journey
    message: Message | None
    snippet: str


def search(practice_id: int, query: Query) -> list[Hit]:
    """The practice's journeys whose contact matches, then the texts and notes that match, newest first."""
    contact_ids = _owners(practice_id, query.contact_terms, SearchTerm.contact_id)
    message_ids = _owners(practice_id, query.message_terms, SearchTerm.message_id)
    hits: list[Hit] = []
    if contact_ids:
        journeys = db.session.scalars(
            select(Journey)
            .where(Journey.practice_id == practice_id, Journey.contact_id.in_(contact_ids))
            .options(selectinload(Journey.contact), selectinload(Journey.assignee))
            .order_by(Journey.last_activity_at.desc())
            .limit(LIMIT)
        )
        hits += [Hit(j, None, j.contact.label) for j in journeys]
    if message_ids:
        messages = db.session.scalars(
            select(Message)
            .where(Message.practice_id == practice_id, Message.id.in_(message_ids))
            .options(
                selectinload(Message.journey).selectinload(Journey.contact),
                selectinload(Message.journey).selectinload(Journey.assignee),
            )
            .order_by(Message.id.desc())
        )
        hits += [Hit(m.journey, m, snippet_around(m.body or "", query.words)) for m in messages]
    return hits[:LIMIT]


# -- rebuilding -----------------------------------------------------------------------------------------


def _batches(model: Any, batch: int) -> Iterator[list[Any]]:
    """Every row of a table, a committed batch at a time, in id order."""
    last_id = 0
    while rows := list(
        db.session.scalars(select(model).where(model.id > last_id).order_by(model.id).limit(batch))
    ):
        yield rows
        db.session.commit()
        last_id = rows[-1].id


def reindex(batch: int = 500, progress: Any = None) -> tuple[int, int]:
    """Rebuild every term from the sealed values (after INBOX_INDEX_KEY changed, or to repair), and the
    contacts' number digests with them. Commits per batch; returns (contacts, messages) indexed."""
    contacts = messages = 0
    for rows in _batches(Contact, batch):
        terms = []
        for contact in rows:
            contact.phone_index = phone_digest(contact.practice_id, contact.phone)
            terms += _rows(contact.practice_id, contact_terms(contact), contact_id=contact.id)
        _write(db.session, terms, [], [c.id for c in rows])
        contacts += len(rows)
        if progress:
            progress("contacts", contacts)
    for rows in _batches(Message, batch):
        terms = []
        for msg in rows:
            if msg.body_ct is not None:
                terms += _rows(msg.practice_id, message_terms(msg.body), message_id=msg.id)
        _write(db.session, terms, [m.id for m in rows], [])
        messages += len(rows)
        if progress:
            progress("messages", messages)
    return contacts, messages
