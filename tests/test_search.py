"""Search across the practice through the sealed index: words of texts and notes in any order, names and
their prefixes, numbers in any spelling; practice-scoped, audited, and with nothing readable stored."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import event, func, select

from inbox import create_app
from inbox.extensions import db
from inbox.models import AuditEvent, Contact, Message, SearchTerm
from inbox.records.redaction import redact
from inbox.texting import search
from inbox.texting.journeys import find_contact
from tests import ephi_watch, factories


@pytest.fixture
def people(app, practice):
    """Three journeys with texts, a note and a guardian, and a look-alike in another practice."""
    maria = factories.journey(
        factories.contact(practice, phone="+14155550142", first_name="María", last_name="López")
    )
    sam = factories.journey(
        factories.contact(
            practice,
            phone="+14155550177",
            first_name="Sam",
            last_name="Okafor",
            guardian_name="Rosalind Okafor",
        )
    )
    factories.message(maria, "Can I move my appointment to Thursday? My insurance card is attached")
    factories.message(maria, "Thanks! See you Thursday", direction="outbound")
    factories.message(sam, "Necesito una cita después del trabajo, por favor")
    factories.message(
        sam, "Called mum: prefers evenings after six", direction="note", kind="note", status="logged"
    )
    other = factories.practice("Elsewhere Counseling", number="+15005550999")
    elsewhere = factories.journey(factories.contact(other, phone="+14155550142", first_name="Maria"))
    factories.message(elsewhere, "appointment Thursday insurance")
    db.session.commit()
    return {"maria": maria, "sam": sam, "elsewhere": elsewhere}


def results(client, q: str) -> list[dict]:
    """What the search answers, as the page receives it."""
    ephi_watch.remember(q)
    response = client.get("/api/search", query_string={"q": q})
    assert response.status_code == 200, response.data
    return response.get_json()["results"]


def found(client, q: str) -> set[tuple[int, int | None]]:
    """(journey id, message id or None) of every result."""
    return {(r["journey"]["id"], r["message_id"]) for r in results(client, q)}


def message_id(journey, starts: str) -> int:
    """The id of the journey's message whose body starts so."""
    return next(
        m.id
        for m in db.session.scalars(select(Message).where(Message.journey_id == journey.id))
        if m.body.startswith(starts)
    )


@pytest.mark.parametrize(
    ("q", "journey", "starts"),
    [
        ("insurance", "maria", "Can I move"),
        ("THURSDAY insurance", "maria", "Can I move"),  # any order, any case
        ("card attached my", "maria", "Can I move"),
        ("despues cita", "sam", "Necesito"),  # accents folded in the text and the query
        ("después", "sam", "Necesito"),
        ("evenings mum", "sam", "Called mum"),  # internal notes are found too
    ],
)
def test_whole_words_of_texts_and_notes_in_any_order(staff_client, people, q, journey, starts):
    assert (people[journey].id, message_id(people[journey], starts)) in found(staff_client, q)


def test_every_word_must_be_in_the_same_text_and_parts_of_words_are_not_words(staff_client, people):
    assert found(staff_client, "insurance evenings") == set()
    assert not any(mid for _j, mid in found(staff_client, "insur"))  # texts match whole words only


@pytest.mark.parametrize(
    ("q", "journey"),
    [
        ("María López", "maria"),
        ("maria", "maria"),
        ("lop", "maria"),  # a name's first three letters
        ("Okaf", "sam"),
        ("Rosalind", "sam"),  # the guardian's name
        ("(415) 555-0142", "maria"),
        ("4155550142", "maria"),
        ("+1 415 555 0142", "maria"),
        ("415.555.0177", "sam"),
        ("0177", "sam"),  # the last four digits
    ],
)
def test_names_prefixes_and_numbers_in_any_spelling_find_the_contacts_journeys(
    staff_client, people, q, journey
):
    assert (people[journey].id, None) in found(staff_client, q)


def test_a_two_letter_prefix_is_not_a_name_search(staff_client, people):
    assert (people["maria"].id, None) not in found(staff_client, "ma")


def test_another_practices_identical_words_names_and_numbers_are_not_found(staff_client, people):
    for q in ("appointment Thursday insurance", "Maria", "4155550142"):
        assert people["elsewhere"].id not in {j for j, _m in found(staff_client, q)}


def test_a_result_carries_the_journey_and_a_snippet_around_the_match(staff_client, people):
    (hit,) = [r for r in results(staff_client, "insurance") if r["message_id"]]
    assert (
        hit["journey"]["contact"] == "María López"
        and hit["journey"]["url"] == f"/journeys/{people['maria'].id}"
    )
    assert "insurance card" in hit["snippet"]


@pytest.mark.parametrize("q", ["", "a", " b "])
def test_a_search_shorter_than_two_characters_is_a_422(staff_client, q):
    response = staff_client.get("/api/search", query_string={"q": q})
    assert response.status_code == 422 and "at least 2" in response.get_json()["error"]


def test_search_needs_a_login(client, people):
    assert client.get("/api/search?q=insurance").status_code == 401


def test_search_is_audited_without_what_was_searched(staff_client, people):
    results(staff_client, "insurance Thursday")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "search")).one()
    assert event.detail == {"words": 2, "count": 1}


def test_the_index_holds_digests_only_and_one_row_per_distinct_word(app, practice):
    journey = factories.journey(factories.contact(practice))
    msg = factories.message(journey, "Zephyrine zephyrine ZEPHYRINE quokka")
    db.session.commit()
    digests = db.session.scalars(select(SearchTerm.digest).where(SearchTerm.message_id == msg.id)).all()
    assert len(digests) == 2 and all(len(d) == 16 and b"zephyrine" not in d.lower() for d in digests)


def test_redaction_takes_the_messages_terms_with_it(app, practice, people, staff_client, gateway):
    admin = factories.user(practice, role="admin")
    target = db.session.get(Message, message_id(people["maria"], "Can I move"))
    assert found(staff_client, "insurance card")
    redact(target, admin, gateway)
    assert db.session.scalar(select(func.count()).where(SearchTerm.message_id == target.id)) == 0
    assert found(staff_client, "insurance card") == set()


def test_renaming_a_contact_replaces_its_name_terms(staff_client, people):
    contact = people["sam"].contact
    assert (people["sam"].id, None) in found(staff_client, "Sam Okafor")
    contact.first_name = "Tobias"
    db.session.commit()
    assert (people["sam"].id, None) not in found(staff_client, "Sam Okafor")
    assert (people["sam"].id, None) in found(staff_client, "Tobias Okafor")  # Okafor: still the guardian's


def test_reindex_rebuilds_terms_and_number_digests_under_a_new_index_key(app, people, monkeypatch, staff):
    monkeypatch.setenv("INBOX_INDEX_KEY", base64.b64encode(b"N" * 32).decode())
    moved = create_app({"TESTING": True})
    with moved.app_context():
        practice_id = people["maria"].practice_id
        assert find_contact(practice_id, "+14155550142") is None  # digests under the old key
        result = moved.test_cli_runner().invoke(args=["reindex", "--batch", "2"])
        assert result.exit_code == 0, result.output
        assert "Done: 3 contacts and 5 messages indexed." in result.output
        assert find_contact(practice_id, "+14155550142").first_name == "María"
        hits = search.search(practice_id, search.parse("insurance Thursday"))
        assert [h.message.journey_id for h in hits if h.message] == [people["maria"].id]
        assert db.session.scalar(select(func.count(Contact.id))) == 3


@pytest.mark.parametrize(
    ("q", "says"),
    [
        (" ".join(f"w{i}" for i in range(9)), "at most 8 words"),
        ("4155 " * 9, None),  # one number nine times: one word, allowed
        ("x" * 201, "at most 200 characters"),
        (" ".join(f"{1000 + i}" for i in range(1500)), "at most 200 characters"),
    ],
)
def test_a_search_of_more_than_8_words_or_200_characters_is_a_422(staff_client, people, q, says):
    response = staff_client.get("/api/search", query_string={"q": q})
    if says is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 422 and says in response.get_json()["error"]


def test_eight_words_find_the_text_holding_all_of_them(staff_client, people):
    q = "can i move my appointment to thursday insurance"
    assert found(staff_client, q) == {(people["maria"].id, message_id(people["maria"], "Can I move"))}
    assert found(staff_client, q.replace("insurance", "quokka")) == set()


def test_a_search_is_one_statement_and_more_words_than_allowed_never_reach_the_database(
    app, staff_client, people
):
    """Issue 23: a 500-word search was one EXISTS per word, minutes of planning on PostgreSQL; now the
    words are bounded before the database is asked, and the texts are found in one statement."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    practice_id = people["maria"].practice_id
    terms = {(search.WORD, f"word{i}") for i in range(search.MAX_WORDS)}
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        search._owners(practice_id, terms, SearchTerm.message_id)
        assert len(statements) == 1
        assert statements[0].upper().count("EXISTS") <= search.MAX_WORDS - 1
        statements.clear()
        many = " ".join(f"word{i}" for i in range(500))[: search.MAX_QUERY]
        assert staff_client.get("/api/search", query_string={"q": many}).status_code == 422
        assert not any("search_terms" in statement for statement in statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
