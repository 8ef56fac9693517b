"""Disarm an inbound PDF: rewrite it with pikepdf (qpdf) without anything a reader could run or open.

Anyone who can text the practice can send a PDF, and staff open it in a desktop reader. What goes:
every action (the document's /OpenAction, /AA additional actions on the catalog, pages, annotations and
form fields, /A on links, bookmarks and widgets), so JavaScript, launch, submit-form and remote go-to
entries go with them; the /Names trees of JavaScript and embedded files; embedded files themselves
(/EF in file specifications, /AF associated files, file attachment annotations, portfolios); XFA forms;
and annotations that play media (movie, sound, screen, rich media, 3D). Pages, their text and images,
form fields' values and appearances, plain internal links (/Dest) and bookmarks' targets stay.

The result is re-read and checked before it is kept; a PDF that cannot be opened (damaged beyond repair,
or locked with a password), saved or cleaned is refused: the original bytes are never kept.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pikepdf
from pikepdf import Array, Dictionary, Pdf

REASON = "could not make this PDF safe"
# Keys dropped from every dictionary in the file: actions and the files a reader would open.
_DROP = ("/OpenAction", "/AA", "/JS", "/EF", "/AF", "/XFA", "/Collection", "/NeedsRendering")
# Name trees (under the catalog's /Names) of scripts run at opening, embedded files and media.
_NAME_TREES = ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations", "/Renditions")
# Annotations that carry a file or play media: removed whole.
_ANNOTATIONS = {"/FileAttachment", "/Movie", "/Sound", "/Screen", "/RichMedia", "/3D"}
# Action types that must not survive anywhere (their names mean nothing else in a PDF).
_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE", "/GoToR", "/RichMediaExecute"}
# pikepdf's own errors, and what qpdf's bindings raise on objects of an unexpected shape.
_FAILURES = (pikepdf.PikepdfError, RuntimeError, ValueError, TypeError, KeyError, IndexError, OverflowError)


class UnsafePdf(Exception):
    """The PDF could not be rewritten without its active content (processing refuses it)."""


def _dictionaries(pdf: Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary in the file (streams' too), direct ones nested in others included; an indirect
    reference is not followed, since the object it names is visited as one of pdf.objects."""
    stack: list[pikepdf.Object] = list(pdf.objects)
    while stack:
        obj = stack.pop()
        if isinstance(obj, (Dictionary, pikepdf.Stream)):
            yield obj
            children = [obj[key] for key in obj.keys()]  # keys(): iterating a Stream reads its data
        elif isinstance(obj, Array):
            children = list(obj)
        else:
            continue
        # Numbers, booleans and null come back as Python values: nothing to walk into.
        stack.extend(c for c in children if isinstance(c, pikepdf.Object) and not c.is_indirect)


def _is_action(value: pikepdf.Object) -> bool:
    """An action dictionary (/S names its type), not a structure element's attributes (also /A)."""
    return isinstance(value, Dictionary) and "/S" in value


def _plays_or_carries(annotation: pikepdf.Object) -> bool:
    """A file attachment or a media annotation (removed whole)."""
    return isinstance(annotation, Dictionary) and annotation.get("/Subtype") in _ANNOTATIONS


def _strip(pdf: Pdf) -> None:
    """Remove every action, script, embedded file, XFA form and media annotation."""
    names = pdf.Root.get("/Names")
    if isinstance(names, Dictionary):
        for tree in _NAME_TREES:
            if tree in names:
                del names[tree]
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if isinstance(annotations, Array):
            kept = [a for a in annotations if not _plays_or_carries(a)]
            if len(kept) < len(annotations):
                page.obj.Annots = Array(kept)
    for dictionary in _dictionaries(pdf):
        for key in _DROP:
            if key in dictionary:
                del dictionary[key]
        if "/A" in dictionary and _is_action(dictionary["/A"]):
            del dictionary["/A"]


def _leftovers(pdf: Pdf) -> list[str]:
    """What is still active in a (re-read) PDF: empty when it is clean."""
    found = []
    names = pdf.Root.get("/Names")
    if isinstance(names, Dictionary):
        found += [tree for tree in _NAME_TREES if tree in names]
    for dictionary in _dictionaries(pdf):
        found += [key for key in _DROP if key in dictionary]
        if "/A" in dictionary and _is_action(dictionary["/A"]):
            found.append("/A")
        if _plays_or_carries(dictionary) or dictionary.get("/S") in _ACTIONS:
            found.append(str(dictionary.get("/Subtype") or dictionary.get("/S")))
    return found


def disarm(data: bytes) -> bytes:
    """The PDF rewritten without active content; UnsafePdf if that cannot be done (or proved)."""
    try:
        with Pdf.open(io.BytesIO(data)) as pdf:  # a PDF locked with a password raises here
            if len(pdf.pages) == 0:
                raise UnsafePdf("no pages")
            _strip(pdf)
            out = io.BytesIO()
            # Without encryption (the copy is sealed at rest like every attachment), and streams copied
            # as they are: decoding them would hand a compression bomb the worker's memory.
            pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
        with Pdf.open(io.BytesIO(out.getvalue())) as clean:
            if len(clean.pages) == 0 or _leftovers(clean):
                raise UnsafePdf("active content left after rewriting")
    except _FAILURES as exc:
        raise UnsafePdf(type(exc).__name__) from None  # qpdf's messages may quote the file
    return out.getvalue()
