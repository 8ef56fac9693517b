"""Tests for the MMS media pipeline: SSRF-safe fetch, sniffing, metadata stripping, thumbnails."""

from __future__ import annotations

import base64
import io
import secrets
import socket
import struct
import threading
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from inbox.media import processing as media
from inbox.media.processing import MediaFetchError, MediaRejected, fetch, parse_origins, process, sniff

CREDENTIALS = ("AC0123", "s3cret-token")
BASIC_AUTH = "Basic " + base64.b64encode(b"AC0123:s3cret-token").decode()
GPS_MARKER = "GPSMARKER-7f3a"
COMMENT_MARKER = b"COMMENTMARKER-91c2"
XMP_MARKER = "XMPMARKER-5d0e"
XMP = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>{XMP_MARKER}</rdf:RDF></x:xmpmeta>'
PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
    b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]>> endobj\n"
    b"xref\n0 4\n0000000000 65535 f \ntrailer <</Size 4 /Root 1 0 R>>\nstartxref\n0\n%%EOF\n"
)


# --- helpers ---------------------------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    """Encode a solid-colour RGB image in the given format."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt, **save)
    return out.getvalue()


def gps_exif() -> Image.Exif:
    """Build EXIF with a GPS position, as a phone camera writes it."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.5)
    gps[ExifTags.GPS.GPSMapDatum] = GPS_MARKER
    return exif


def huge_png(width: int, height: int) -> bytes:
    """A valid-looking tiny PNG whose IHDR claims width x height (its pixels are never there)."""
    data = bytearray(image_bytes("PNG", size=(1, 1)))
    # IHDR data starts at byte 16 (8 signature + 4 length + 4 type); its CRC follows 13 bytes later.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def heic_bytes() -> bytes:
    """Encode a small HEIC, or skip when pillow-heif has no encoder here."""
    pytest.importorskip("pillow_heif")
    try:
        return image_bytes("HEIF")
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"no HEIF encoder: {exc}")


@dataclass
class Hit:
    """One request a fake media host received."""

    path: str
    authorization: str | None


class FakeMediaHost:
    """A local HTTP server standing in for Twilio's API/CDN; tests set routes and count hits."""

    def __init__(self) -> None:
        """Start serving on a free loopback port in a background thread."""
        self.routes: dict[str, Callable[[Request], Response]] = {}
        self.hits: list[Hit] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.origin = f"http://127.0.0.1:{self._server.port}"
        # A short poll interval keeps shutdown (and so each test's teardown) fast.
        poll = {"poll_interval": 0.02}
        threading.Thread(target=self._server.serve_forever, kwargs=poll, daemon=True).start()

    def url(self, path: str) -> str:
        """Return the absolute URL of a path on this host."""
        return self.origin + path

    def serve(self, path: str, body: bytes, content_type: str = "image/jpeg") -> None:
        """Answer path with fixed bytes and a (possibly lying) content type."""
        self.routes[path] = lambda request: Response(body, content_type=content_type)

    def redirect(self, path: str, location: str) -> None:
        """Answer path with a 307 to location."""
        self.routes[path] = lambda request: Response(status=307, headers={"Location": location})

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict, start_response: Callable) -> Iterator[bytes]:
        """Record the request, then dispatch it to its route (404 when none)."""
        request = Request(environ)
        self.hits.append(Hit(request.full_path.rstrip("?"), request.headers.get("Authorization")))
        route = self.routes.get(request.path)
        response = route(request) if route else Response("not found", status=404)
        return response(environ, start_response)


@pytest.fixture
def start_host() -> Iterator[Callable[[], FakeMediaHost]]:
    """Start as many fake media hosts as a test needs; stop them afterwards."""
    started: list[FakeMediaHost] = []

    def start() -> FakeMediaHost:
        started.append(FakeMediaHost())
        return started[-1]

    yield start
    for host in started:
        host.close()


@pytest.fixture
def host(start_host: Callable[[], FakeMediaHost]) -> FakeMediaHost:
    """One fake media host."""
    return start_host()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A requests session that ignores proxy settings of the machine running the tests."""
    with requests.Session() as s:
        s.trust_env = False
        yield s


def fetch_from(url: str, allowed: set[str], session: requests.Session, **kwargs: object) -> bytes:
    """Call fetch with the test credentials and session."""
    return fetch(url, allowed_origins=frozenset(allowed), auth=CREDENTIALS, session=session, **kwargs)


# --- allow-list parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.twilio.com", {"https://api.twilio.com"}),
        ("HTTPS://API.Twilio.COM:443/", {"https://api.twilio.com"}),
        ("http://127.0.0.1:80, http://127.0.0.1:8080", {"http://127.0.0.1", "http://127.0.0.1:8080"}),
        ("https://a.example,,https://a.example ", {"https://a.example"}),
    ],
)
def test_parse_origins_normalises_scheme_host_and_default_port(value: str, expected: set[str]) -> None:
    assert parse_origins(value) == frozenset(expected)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "api.twilio.com",
        "ftp://api.twilio.com",
        "https://api.twilio.com/2010-04-01",
        "https://api.twilio.com?x=1",
        "https://user:pass@api.twilio.com",
        "https://api.twilio.com:99999",
        "https://",
        "https://ok.example,file:///etc/passwd",
    ],
)
def test_parse_origins_rejects_anything_but_bare_http_origins(value: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_origins(value)
    assert "pass" not in str(excinfo.value)


def test_default_media_hosts_are_twilios_https_origins() -> None:
    assert parse_origins(media.DEFAULT_MEDIA_HOSTS) == {
        "https://api.twilio.com",
        "https://media.twiliocdn.com",
        "https://mms.twiliocdn.com",
    }


# --- fetch: SSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/media",
        "http://127.1:{port}/media",
        "http://2130706433:{port}/media",
        "http://[::1]:{port}/media",
        "https://127.0.0.1:{port}/media",
        "http://127.0.0.1:{port}@evil.example/media",
        "http://user:pw@127.0.0.1:{port}/media",
        "http://127.0.0.1:{port}\\@evil.example/media",
        "http://127.0.0.1:{port}.evil.example/media",
        " http://127.0.0.1:{port}/media",
        "ftp://127.0.0.1:{port}/media",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_GET",
        "/media",
    ],
)
def test_fetch_refuses_urls_outside_the_allow_list_without_a_request(
    host: FakeMediaHost, session: requests.Session, template: str
) -> None:
    host.serve("/media", image_bytes("PNG"))
    url = template.format(port=host.origin.rsplit(":", 1)[1])
    with pytest.raises(MediaRejected) as excinfo:
        fetch_from(url, {host.origin}, session)
    assert excinfo.value.reason == "not an allowed media host"
    assert host.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "https://api.twilio.com.evil.com/2010-04-01/Media/ME1",
        "https://api.twilio.com@evil.com/",
        "https://evil.com/https://api.twilio.com/",
        "http://api.twilio.com/2010-04-01/Media/ME1",
        "https://api.twilio.com:8443/2010-04-01/Media/ME1",
    ],
)
def test_fetch_refuses_look_alikes_of_twilio_hosts(url: str, session: requests.Session) -> None:
    allowed = set(parse_origins(media.DEFAULT_MEDIA_HOSTS))
    with pytest.raises(MediaRejected, match="not an allowed media host"):
        fetch_from(url, allowed, session)


def test_fetch_downloads_from_an_allowed_origin_with_credentials(
    host: FakeMediaHost, session: requests.Session
) -> None:
    body = image_bytes("JPEG")
    host.serve("/media", body)
    url = host.url("/media").replace("http://", "HTTP://")  # origins compare case-insensitively
    assert fetch_from(url, {host.origin}, session) == body
    assert [hit.path for hit in host.hits] == ["/media"]
    assert host.hits[0].authorization == BASIC_AUTH


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://localhost:{port}/secret"]
)
def test_redirect_to_a_non_allowed_origin_is_refused_and_not_requested(
    host: FakeMediaHost, session: requests.Session, target: str
) -> None:
    port = host.origin.rsplit(":", 1)[1]
    host.serve("/secret", b"internal")
    host.redirect("/media", target.format(port=port))
    with pytest.raises(MediaRejected, match="not an allowed media host"):
        fetch_from(host.url("/media"), {host.origin}, session)
    assert [hit.path for hit in host.hits] == ["/media"]


def test_redirect_within_allowed_origins_is_followed(host: FakeMediaHost, session: requests.Session) -> None:
    body = image_bytes("PNG")
    host.redirect("/media", "/hop")
    host.redirect("/hop", host.url("/signed?sig=abc"))
    host.serve("/signed", body)
    assert fetch_from(host.url("/media"), {host.origin}, session) == body
    assert [hit.path for hit in host.hits] == ["/media", "/hop", "/signed?sig=abc"]


def test_more_than_three_redirects_fail_without_retry(host: FakeMediaHost, session: requests.Session) -> None:
    host.redirect("/loop", "/loop")
    with pytest.raises(MediaFetchError) as excinfo:
        fetch_from(host.url("/loop"), {host.origin}, session)
    assert excinfo.value.retryable is False
    assert len(host.hits) == 4  # the original request and three redirects


@pytest.mark.parametrize("session_auth", [False, True])
def test_credentials_go_only_to_the_original_origin_not_to_a_redirect_target(
    start_host: Callable[[], FakeMediaHost], session: requests.Session, session_auth: bool
) -> None:
    api, cdn = start_host(), start_host()
    if session_auth:  # credentials configured on the session must not leak either
        session.auth = CREDENTIALS
    cdn.serve("/signed", image_bytes("JPEG"))
    api.redirect("/Media/ME1", cdn.url("/signed?X-Amz-Signature=abc"))
    fetch_from(api.url("/Media/ME1"), {api.origin, cdn.origin}, session)
    assert api.hits[0].authorization == BASIC_AUTH
    assert cdn.hits == [Hit("/signed?X-Amz-Signature=abc", None)]


# --- fetch: failures and size cap ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(404, False), (401, False), (403, False), (500, True), (503, True), (429, True)],
)
def test_http_errors_say_whether_a_retry_can_help(
    host: FakeMediaHost, session: requests.Session, status: int, retryable: bool
) -> None:
    host.routes["/media"] = lambda request: Response("nope", status=status)
    with pytest.raises(MediaFetchError) as excinfo:
        fetch_from(host.url("/media"), {host.origin}, session)
    assert excinfo.value.retryable is retryable
    assert "127.0.0.1" not in excinfo.value.reason


def test_unreachable_host_is_retryable(session: requests.Session) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    origin, signature = f"http://127.0.0.1:{port}", secrets.token_hex(8)
    with pytest.raises(MediaFetchError) as excinfo:
        fetch_from(f"{origin}/media?sig={signature}", {origin}, session)
    assert excinfo.value.retryable is True
    # A logged traceback must not show the (pre-signed) URL through a chained requests error.
    assert signature not in "".join(traceback.format_exception(excinfo.value))


class Streamed:
    """A large response body that counts how much of it the server produced."""

    def __init__(self, total: int) -> None:
        """Prepare total bytes of body, produced in 64 KiB chunks on demand."""
        self.total, self.produced = total, 0

    def __iter__(self) -> Iterator[bytes]:
        """Yield chunks until total bytes were produced."""
        chunk = b"\xff\xd8\xff" + b"\0" * (64 * 1024 - 3)
        while self.produced < self.total:
            self.produced += len(chunk)
            yield chunk


def test_oversized_body_is_rejected_without_reading_it_all(
    host: FakeMediaHost, session: requests.Session
) -> None:
    body = Streamed(200 * 1024 * 1024)  # chunked: no Content-Length to go by
    host.routes["/media"] = lambda request: Response(body)
    with pytest.raises(MediaRejected, match="file larger than 1 MB"):
        fetch_from(host.url("/media"), {host.origin}, session, max_bytes=1024 * 1024)
    assert body.produced < body.total // 4


def test_declared_length_over_the_cap_is_rejected_before_the_body_is_read(
    host: FakeMediaHost, session: requests.Session
) -> None:
    release = threading.Event()

    def stalled_body() -> Iterator[bytes]:
        """Send a first byte (so headers go out), then stall: reading on would time out."""
        yield b"\xff"
        release.wait(10)

    headers = {"Content-Length": str(2 * 1024 * 1024)}
    host.routes["/media"] = lambda request: Response(stalled_body(), headers=headers)
    try:
        with pytest.raises(MediaRejected, match="file larger than 1 MB"):
            fetch_from(host.url("/media"), {host.origin}, session, max_bytes=1024 * 1024, timeout=3)
    finally:
        release.set()


def test_body_at_the_size_limit_is_accepted(host: FakeMediaHost, session: requests.Session) -> None:
    host.serve("/media", b"x" * 1000)
    assert len(fetch_from(host.url("/media"), {host.origin}, session, max_bytes=1000)) == 1000


# --- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("PNG"), "image/png"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (b"GIF87a" + b"\0" * 10, "image/gif"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "image/heic"),
        (b"\0\0\0\x18ftypheix\0\0\0\0", "image/heic"),
        (b"\0\0\0\x18ftypmif1\0\0\0\0", "image/heic"),
        (b"\0\0\0\x18ftypmsf1\0\0\0\0", "image/heic"),
        (PDF, "application/pdf"),
        (b"\0\0\0\x18ftypisom\0\0\0\0", None),  # an MP4 video
        (b"\0\0\0\x1cftypavif\0\0\0\0mif1", None),  # AVIF: not on the list
        (b"\0\0\0\x18ftypheif\0\0\0\0", None),
        (b"RIFF\0\0\0\0WAVEfmt ", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"<html><script>alert(1)</script>", None),
        (b"MZ\x90\0", None),
        (b"", None),
    ],
)
def test_sniff_identifies_media_by_magic_bytes(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_declared_type_is_ignored_png_served_as_jpeg_is_png(
    host: FakeMediaHost, session: requests.Session
) -> None:
    host.serve("/card.jpg", image_bytes("PNG"), content_type="image/jpeg")
    result = process(fetch_from(host.url("/card.jpg"), {host.origin}, session))
    assert result.content_type == "image/png"
    assert Image.open(io.BytesIO(result.data)).format == "PNG"


@pytest.mark.parametrize(
    "data",
    [b"hello, this is a text file\n", b"<svg/>", b"\0" * 64],
)
def test_unsupported_bytes_are_rejected_whatever_they_claim(data: bytes) -> None:
    with pytest.raises(MediaRejected, match="unsupported file type"):
        process(data)


def test_bytes_with_image_magic_that_do_not_decode_are_rejected() -> None:
    with pytest.raises(MediaRejected, match="could not be decoded"):
        process(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)


# --- processing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "stored_type", "stored_format"),
    [
        ("JPEG", "image/jpeg", "JPEG"),
        ("PNG", "image/png", "PNG"),
        ("GIF", "image/png", "PNG"),
        ("WEBP", "image/webp", "WEBP"),
    ],
)
def test_images_are_reencoded_to_their_stored_format(fmt: str, stored_type: str, stored_format: str) -> None:
    result = process(image_bytes(fmt, size=(80, 60)))
    assert result.content_type == stored_type
    assert Image.open(io.BytesIO(result.data)).format == stored_format
    assert (result.width, result.height) == (80, 60)
    assert result.thumbnail_type == "image/jpeg"


def test_heic_is_converted_to_jpeg() -> None:
    result = process(heic_bytes())
    assert result.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(result.data)).format == "JPEG"


def test_undecodable_heic_is_rejected() -> None:
    with pytest.raises(MediaRejected, match="could not be decoded"):
        process(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_gps_exif_xmp_icc_and_comments_are_stripped(fmt: str) -> None:
    if fmt == "HEIF":
        heic_bytes()  # skips when this machine cannot encode HEIC
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    extra: dict[str, object] = {"exif": gps_exif().tobytes(), "icc_profile": icc, "xmp": XMP.encode()}
    if fmt == "JPEG":
        extra["comment"] = COMMENT_MARKER
    if fmt == "PNG":
        extra["pnginfo"] = info = PngImagePlugin.PngInfo()
        info.add_text("Comment", COMMENT_MARKER.decode())
        info.add_itxt("XML:com.adobe.xmp", XMP)
    original = image_bytes(fmt, **extra)
    assert {"exif", "icc_profile", "xmp"} <= set(Image.open(io.BytesIO(original)).info)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert GPS_MARKER.encode() in original and XMP_MARKER.encode() in original

    result = process(original)

    stored = Image.open(io.BytesIO(result.data))
    assert len(stored.getexif()) == 0
    assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"icc_profile", "xmp", "comment", "exif"} & set(stored.info)
    for blob in (result.data, result.thumbnail):
        for marker in (GPS_MARKER.encode(), b"Exif", COMMENT_MARKER, XMP_MARKER.encode()):
            assert marker not in blob


def test_exif_orientation_is_applied_to_pixels() -> None:
    # Stored 40x20 (red left, blue right) with orientation 6: shown rotated 90 degrees clockwise,
    # i.e. 20 wide and 40 tall, with red on top.
    sideways = Image.new("RGB", (40, 20), (255, 0, 0))
    sideways.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    sideways.save(out, "JPEG", exif=exif.tobytes(), quality=95)

    result = process(out.getvalue())

    assert (result.width, result.height) == (20, 40)
    for blob in (result.data, result.thumbnail):
        upright = Image.open(io.BytesIO(blob)).convert("RGB")
        assert upright.size == (20, 40)
        red, blue = upright.getpixel((10, 5)), upright.getpixel((10, 35))
        assert red[0] > 200 and red[2] < 60, red
        assert blue[2] > 200 and blue[0] < 60, blue
        assert ExifTags.Base.Orientation not in Image.open(io.BytesIO(blob)).getexif()


@pytest.mark.parametrize(
    ("size", "expected"), [((2000, 1000), (320, 160)), ((900, 1800), (160, 320)), ((100, 50), (100, 50))]
)
def test_thumbnail_fits_in_320px_and_keeps_aspect_ratio(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    result = process(image_bytes("JPEG", size=size))
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "JPEG"
    assert thumb.size == expected


def test_transparent_image_thumbnail_is_flattened_onto_white() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(out, "PNG")
    result = process(out.getvalue())
    assert Image.open(io.BytesIO(result.data)).mode == "RGBA"  # the stored PNG keeps its alpha
    assert min(Image.open(io.BytesIO(result.thumbnail)).getpixel((25, 25))) >= 250


@pytest.mark.parametrize("size", [(50_000, 50_000), (8_000, 8_000)])
def test_pixel_flood_is_rejected_from_the_header_without_decoding(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    def fail_load(self: ImageFile.ImageFile) -> None:
        raise AssertionError("a pixel flood must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail_load)
    with pytest.raises(MediaRejected) as excinfo:
        process(huge_png(*size))
    assert excinfo.value.reason == "image too large to decode safely"


def test_max_pixels_is_configurable() -> None:
    data = image_bytes("PNG", size=(100, 100))
    assert process(data, max_pixels=10_000).width == 100
    with pytest.raises(MediaRejected, match="too large to decode"):
        process(data, max_pixels=9_999)


def test_pdf_is_rewritten_without_thumbnail() -> None:
    result = process(PDF)  # its broken cross-reference table is rebuilt (tests/test_pdfs.py: the rest)
    assert (result.content_type, result.thumbnail, result.width) == ("application/pdf", None, None)
    assert result.data.startswith(b"%PDF-") and result.data != PDF


@pytest.mark.parametrize("data", [PDF[: len(PDF) // 2], PDF.replace(b"%%EOF", b"")])
def test_truncated_pdf_is_rejected(data: bytes) -> None:
    with pytest.raises(MediaRejected, match="PDF"):
        process(data)
