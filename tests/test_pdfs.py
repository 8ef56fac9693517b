"""Inbound PDFs are rewritten without their active content, or refused when that cannot be done."""

from __future__ import annotations

import io

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from inbox.media.processing import MediaRejected, process
from tests import hostile_pdfs
from tests.hostile_pdfs import ACTIVE, TEXT, expanded, plain, saved


def test_a_plain_pdf_is_rewritten_and_keeps_its_pages_and_text() -> None:
    original = saved(plain(pages=3))
    result = process(original)
    assert (result.content_type, result.thumbnail) == ("application/pdf", None)
    assert result.data != original  # rewritten, never kept as it came
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert len(pdf.pages) == 3
    assert expanded(result.data).count(TEXT) == 3


@pytest.mark.parametrize("kind", sorted(hostile_pdfs.HOSTILE))
def test_each_kind_of_active_content_is_removed(kind: str) -> None:
    kept = expanded(process(hostile_pdfs.hostile(kind)).data)
    assert not ACTIVE.search(kept), ACTIVE.search(kept)
    assert kept.count(TEXT) == 2


def test_a_pdf_locked_only_against_changes_is_stored_unlocked_and_disarmed() -> None:
    # Insurers' statements often carry an owner password: anyone can open them, so they can be cleaned.
    locked = hostile_pdfs.hostile("open_action_script", encryption=pikepdf.Encryption(owner="o", user=""))
    result = process(locked).data
    with pikepdf.open(io.BytesIO(result)) as pdf:
        assert not pdf.is_encrypted and len(pdf.pages) == 2
    assert not ACTIVE.search(expanded(result))


def test_a_fields_scripts_go_while_its_value_and_internal_links_stay() -> None:
    pdf = plain()
    second = pdf.pages[1].obj
    link = Dictionary(Subtype=Name.Link, Rect=Array([72, 700, 300, 720]), Dest=Array([second, Name.Fit]))
    field = Dictionary(Subtype=Name.Widget, FT=Name.Tx, T=String("member_id"), V=String("HX-2209-51"))
    field.Rect, field.AA = Array([72, 500, 300, 520]), Dictionary(K=hostile_pdfs.script())
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(link), pdf.make_indirect(field)])
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.pages[0].obj.Annots[1]]))
    with pikepdf.open(io.BytesIO(process(saved(pdf)).data)) as clean:
        kept_link, kept_field = clean.pages[0].obj.Annots
        assert kept_link.Dest[0].objgen == clean.pages[1].obj.objgen
        assert str(kept_field.V) == "HX-2209-51" and "/AA" not in kept_field


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + b"\x00garbage that is no PDF at all\n" * 40 + b"%%EOF\n",
        saved(plain(), encryption=pikepdf.Encryption(owner="o", user="open sesame")),
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 1 0 R>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
        saved(pikepdf.new()),
    ],
    ids=["not a PDF", "locked with a password", "pages that loop", "no pages"],
)
def test_a_pdf_that_cannot_be_made_safe_is_refused(data: bytes) -> None:
    with pytest.raises(MediaRejected) as refused:
        process(data)
    assert refused.value.reason == "could not make this PDF safe"
