"""Power-of-attorney uploads (MISSION A1; SECURITY.md R-02..R-04).

Accepted: PDF, PNG and JPEG up to 10 MB, recognised by their content, never by the
name or the browser's Content-Type. A PDF must start with ``%PDF-`` and end with
``%%EOF`` and may not carry active content (JavaScript, launch actions, embedded files,
forms), also not inside compressed streams; images are opened by Pillow (a header read,
no decoding) and refused above 10 000 pixels a side. Nothing is written to disk: the
bytes go into the database with the audit record, and are served only as an attachment
under a server-made name.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
import zlib
from collections.abc import Iterator

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.db import now
from idp.models import OrgDocument

MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 10_000
# A PDF's compressed streams are inflated to look for active content; beyond this many
# bytes in all the file is refused as a possible decompression bomb.
MAX_INFLATED = 64 * 1024 * 1024
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
_ACTIVE_PDF = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|AcroForm|SubmitForm|ImportData)\b"
)
_HTML = re.compile(rb"<\s*(script|html|!doctype|svg|iframe)", re.IGNORECASE)
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


class DocumentError(ValueError):
    """``code`` picks the translated message; ``status`` the HTTP status."""

    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code, self.status = code, status


def _streams(data: bytes) -> Iterator[bytes]:
    """The bodies between ``stream`` and ``endstream``, in one linear pass (a regex
    would rescan to the end from every unterminated ``stream``: quadratic on 10 MB)."""
    pos = 0
    while (start := data.find(b"stream", pos)) >= 0:
        end = data.find(b"endstream", start + 6)
        if end < 0:
            return
        body = start + 6
        if data.startswith(b"\r\n", body):
            body += 2
        elif data[body : body + 1] in (b"\r", b"\n"):
            body += 1
        yield data[body:end]
        pos = end + 9


def _active_pdf_content(data: bytes) -> bool:
    # PDF names may spell letters as #xx (/J#61vaScript): undo that before matching.
    def scan(chunk: bytes) -> bool:
        plain = _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), chunk)
        return bool(_ACTIVE_PDF.search(plain) or _HTML.search(plain))

    if scan(data):
        return True
    budget = MAX_INFLATED
    for body in _streams(data):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(body, budget + 1)
        except zlib.error:
            continue  # not a Flate stream (images, fonts in other filters)
        budget -= len(inflated)
        if budget < 0:
            raise DocumentError("document_too_complex")
        if scan(inflated):
            return True
    return False


def _check_image(data: bytes) -> None:
    with warnings.catch_warnings():
        # Pillow warns, then refuses, above ~89 M pixels: both count as too large here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size  # from the header: nothing is decoded
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise DocumentError("document_too_large_image")
                image.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DocumentError("document_too_large_image") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            if isinstance(exc, DocumentError):
                raise
            raise DocumentError("document_type") from exc


def media_type_of(data: bytes) -> str:
    """The allow-listed type the bytes really are, or DocumentError (R-02, R-03)."""
    if not data:
        raise DocumentError("document_empty")
    if len(data) > MAX_BYTES:
        raise DocumentError("document_too_large", 413)
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:
            raise DocumentError("document_type")
        if _active_pdf_content(data):
            raise DocumentError("document_active_content")
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_image(data)
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        _check_image(data)
        return "image/jpeg"
    raise DocumentError("document_type")


def display_name(filename: str) -> str:
    """The uploaded name for display only: no path, no control or bidi characters."""
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = "".join(
        c for c in base if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return cleaned.strip()[:120] or "document"


def upload(db: Session, org_id: int, data: bytes, filename: str, actor: int | None) -> OrgDocument:
    """Store a new power-of-attorney document; the previous one is kept as replaced."""
    media_type = media_type_of(data)
    t = now()
    previous = db.scalar(
        select(OrgDocument.id).where(
            OrgDocument.org_id == org_id, OrgDocument.replaced_at.is_(None)
        )
    )
    db.execute(
        update(OrgDocument)
        .where(OrgDocument.org_id == org_id, OrgDocument.replaced_at.is_(None))
        .values(replaced_at=t)
    )
    doc = OrgDocument(
        org_id=org_id,
        kind="power_of_attorney",
        media_type=media_type,
        original_name=display_name(filename),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        uploaded_by=actor,
        uploaded_at=t,
        review="pending",
    )
    db.add(doc)
    db.flush()
    record(
        db,
        AuditTag.ORG_DOCUMENT_UPLOADED,
        actor=actor,
        subject=None,
        org=org_id,
        before=previous,
        after=doc.id,
        sha256=doc.sha256,
        size=doc.size,
    )
    return doc


def current(db: Session, org_id: int) -> OrgDocument | None:
    return db.scalar(
        select(OrgDocument).where(OrgDocument.org_id == org_id, OrgDocument.replaced_at.is_(None))
    )


def history(db: Session, org_id: int) -> list[OrgDocument]:
    return list(
        db.scalars(
            select(OrgDocument)
            .where(OrgDocument.org_id == org_id)
            .order_by(OrgDocument.uploaded_at.desc(), OrgDocument.id.desc())
        )
    )


def download_headers(doc: OrgDocument, identifier: str) -> dict[str, str]:
    """R-04: always an attachment under a server-made name, never rendered inline."""
    name = f"poa-{identifier}-{doc.id}.{EXTENSIONS[doc.media_type]}"
    return {
        "Content-Type": doc.media_type,
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    }
