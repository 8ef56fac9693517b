"""MMS media pipeline: fetch from allow-listed hosts, sniff the real type, strip metadata, thumbnail;
PDFs are rewritten without their active content (media/pdfs.py).

Pure functions; the caller stores, encrypts and schedules. Nothing here echoes a URL: Twilio redirects
to pre-signed CDN links whose query string is itself a credential.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from PIL import Image, ImageOps

from inbox.media import pdfs

try:
    from pillow_heif import register_heif_opener
except ImportError:  # HEIC is accepted only where decodable; without the plugin it is refused.
    pass
else:
    register_heif_opener()

DEFAULT_MEDIA_HOSTS = "https://api.twilio.com,https://media.twiliocdn.com,https://mms.twiliocdn.com"
MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Printable ASCII, no space or backslash: URL parsers disagree on the rest, which SSRF tricks exploit.
_PLAIN_URL = re.compile(r"[!-\[\]-~]+")
# Redirects are followed by hand (each one re-checked); identity encoding: the cap counts real bytes.
_GET_OPTIONS: dict = {"stream": True, "allow_redirects": False, "headers": {"Accept-Encoding": "identity"}}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_JPEG = {"format": "JPEG", "quality": 88}
# Sniffed type -> (the only Pillow plugin allowed to open it, stored type, save options).
_IMAGE_RULES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "image/jpeg": ("JPEG", "image/jpeg", _JPEG),
    "image/heic": ("HEIF", "image/jpeg", _JPEG),
    "image/png": ("PNG", "image/png", {"format": "PNG"}),
    "image/gif": ("GIF", "image/png", {"format": "PNG"}),
    "image/webp": ("WEBP", "image/webp", {"format": "WEBP", "quality": 88}),
}
# What Pillow and its plugins raise on malformed input (KeyError: the HEIF plugin is missing).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, LookupError, struct.error)


class MediaRejected(Exception):
    """Media refused by policy (host, size, type, safety); retrying will not help."""

    def __init__(self, reason: str) -> None:
        """Keep a short human reason that never contains URLs or file contents."""
        super().__init__(reason)
        self.reason = reason


class MediaFetchError(Exception):
    """Media could not be downloaded; `retryable` says whether a later attempt may succeed."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        """Keep a short human reason and whether the job should try again."""
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class ProcessedMedia:
    """Sanitised media ready to encrypt: the bytes to store, their type, and a JPEG thumbnail."""

    content_type: str
    data: bytes
    thumbnail: bytes | None
    thumbnail_type: str | None
    width: int | None
    height: int | None


def _origin(url: str, *, bare: bool = False) -> str | None:
    """Return the normalised scheme://host[:port] of a plain http(s) URL, or None if it is unsafe."""
    if not _PLAIN_URL.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if bare and (parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    host = f"[{host}]" if ":" in host else host
    suffix = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{suffix}"


def parse_origins(value: str) -> frozenset[str]:
    """Parse comma-separated "scheme://host[:port]" origins; ValueError on anything else."""
    origins = set()
    for number, entry in enumerate(value.split(","), start=1):
        if entry.strip():
            origin = _origin(entry.strip(), bare=True)
            if origin is None:  # Not echoed: a mistyped entry may carry user:password@.
                raise ValueError(f"media host #{number} is not an http(s) scheme://host[:port] origin")
            origins.add(origin)
    if not origins:
        raise ValueError("no media hosts given")
    return frozenset(origins)


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Drop any Authorization a session or .netrc would add, so a redirect target gets none."""
    request.headers.pop("Authorization", None)
    return request


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    """Read the body, refusing it as soon as it (or its declared length) exceeds max_bytes."""
    mib = 1024 * 1024
    limit = f"{max_bytes // mib} MB" if max_bytes % mib == 0 else f"{max_bytes} bytes"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise MediaRejected(f"file larger than {limit}")
    chunks, total = [], 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise MediaRejected(f"file larger than {limit}")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(
    url: str,
    *,
    allowed_origins: frozenset[str],
    auth: tuple[str, str] | None,
    max_bytes: int = 5 * 1024 * 1024,
    timeout: float = 10.0,
    session: requests.Session | None = None,
) -> bytes:
    """Download media from an allow-listed origin, following at most 3 re-checked redirects."""
    first_origin = _origin(url)
    http = session or requests.Session()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            origin = _origin(url)
            if origin is None or origin not in allowed_origins:
                raise MediaRejected("not an allowed media host")
            # Twilio redirects to its CDN with a pre-signed URL: the account token stays with Twilio.
            credentials = auth if auth and origin == first_origin else _no_auth
            try:
                with http.get(url, auth=credentials, timeout=timeout, **_GET_OPTIONS) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    status = response.status_code
                    if status != 200:
                        retryable = status >= 500 or status in (408, 429)
                        raise MediaFetchError(f"media host answered {status}", retryable=retryable)
                    return _read_capped(response, max_bytes)
            except requests.Timeout:
                raise MediaFetchError("media host timed out", retryable=True) from None
            except requests.RequestException:  # `from None`: requests' messages contain the URL.
                raise MediaFetchError("could not reach media host", retryable=True) from None
        raise MediaFetchError("too many redirects", retryable=False)
    finally:
        if session is None:
            http.close()


def sniff(data: bytes) -> str | None:
    """Return the real media type from magic bytes, or None; a declared type is never trusted."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _decode(data: bytes, pillow_format: str, max_pixels: int) -> Image.Image:
    """Open an image, refuse a pixel flood from its header alone, then decode it upright."""
    try:
        image = Image.open(io.BytesIO(data), formats=[pillow_format])
        if image.width * image.height > max_pixels:
            raise MediaRejected("image too large to decode safely")
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRejected("image too large to decode safely") from None
    except _DECODE_ERRORS:
        raise MediaRejected("image could not be decoded") from None
    # Emptying info is what strips EXIF/GPS, XMP, ICC and comments: some encoders copy them from it.
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """Return an RGB or L image for JPEG, compositing any transparency onto white."""
    if image.mode in ("RGB", "L"):
        return image
    if not image.has_transparency_data:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")


def _thumbnail(image: Image.Image, thumb_size: int) -> Image.Image:
    """Shrink (never enlarge) to fit thumb_size x thumb_size, ready for JPEG."""
    if image.mode not in ("RGB", "L", "RGBA", "LA"):  # palette images only resize with NEAREST
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    scale = min(1.0, thumb_size / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Reduce the decoded image: a second, draft-mode decode would repeat the entropy decoding.
    return _flatten(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0))


def _encode(image: Image.Image, options: dict[str, Any]) -> bytes:
    """Encode an image with the given save options and no metadata."""
    out = io.BytesIO()
    image.save(out, **options)
    return out.getvalue()


def process(data: bytes, *, max_pixels: int = 40_000_000, thumb_size: int = 320) -> ProcessedMedia:
    """Sniff and validate media; re-encode images without metadata and make a JPEG thumbnail; rewrite
    PDFs without scripts, actions, embedded files and XFA. Nothing is ever returned as it came."""
    kind = sniff(data)
    if kind is None:
        raise MediaRejected("unsupported file type")
    if kind == "application/pdf":
        if b"%%EOF" not in data[-1024:]:
            raise MediaRejected("PDF is truncated")
        try:
            return ProcessedMedia(kind, pdfs.disarm(data), None, None, None, None)
        except pdfs.UnsafePdf:
            raise MediaRejected(pdfs.REASON) from None
    pillow_format, stored_type, options = _IMAGE_RULES[kind]
    image = _decode(data, pillow_format, max_pixels)
    stored = _flatten(image) if options["format"] == "JPEG" else image
    return ProcessedMedia(
        content_type=stored_type,
        data=_encode(stored, options),
        thumbnail=_encode(_thumbnail(image, thumb_size), {"format": "JPEG", "quality": 80}),
        thumbnail_type="image/jpeg",
        width=image.width,
        height=image.height,
    )
