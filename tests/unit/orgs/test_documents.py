"""Content checks of uploaded documents (MISSION A1; SECURITY.md R-02, R-03, R-04)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from idp.orgs.documents import MAX_BYTES, DocumentError, display_name, media_type_of


def pdf(body: bytes = b"1 0 obj << /Type /Catalog >> endobj\n") -> bytes:
    return b"%PDF-1.7\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions (a pixel bomb): only the header is real."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def test_plain_pdf_png_and_jpeg_are_accepted():
    assert media_type_of(pdf()) == "application/pdf"
    assert media_type_of(png(20, 10)) == "image/png"
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    assert media_type_of(out.getvalue()) == "image/jpeg"


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03" + b"\0" * 100,  # a Windows .exe renamed .pdf or .jpg
        b"<html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.7\n1 0 obj << >> endobj\n",  # no %%EOF: truncated or not a PDF
        b"\x89PNG\r\n\x1a\nnot really a png",
        b"\xff\xd8\xff\xe0garbage",
    ],
)
def test_other_content_is_refused_by_its_bytes_R02(data):
    with pytest.raises(DocumentError) as exc:
        media_type_of(data)
    assert exc.value.code == "document_type" and exc.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n",
        b"1 0 obj << /OpenAction << /S /J#61vaScript /J#53 (x) >> >> endobj\n",  # #xx escapes
        b"1 0 obj << /S /Launch /F (cmd.exe) >> endobj\n",
        b"1 0 obj << /EmbeddedFiles 2 0 R >> endobj\n",
        b"1 0 obj << >> endobj\n<html><script>alert(1)</script></html>\n",  # polyglot
    ],
)
def test_pdf_with_active_content_is_refused_R02(body):
    with pytest.raises(DocumentError) as exc:
        media_type_of(pdf(body))
    assert exc.value.code == "document_active_content"


def test_javascript_hidden_in_a_compressed_stream_is_found_R02():
    hidden = zlib.compress(b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>")
    body = b"2 0 obj << /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        len(hidden),
        hidden,
    )
    with pytest.raises(DocumentError) as exc:
        media_type_of(pdf(body))
    assert exc.value.code == "document_active_content"


def test_compressed_harmless_stream_is_fine():
    text = zlib.compress(b"BT /F1 12 Tf (Hello) Tj ET")
    body = b"2 0 obj << /Filter /FlateDecode >>\nstream\n%s\nendstream\nendobj\n" % text
    assert media_type_of(pdf(body)) == "application/pdf"


def test_decompression_bomb_in_a_pdf_is_refused_R03():
    bomb = zlib.compress(b"\0" * (80 * 1024 * 1024), 9)  # about 80 KB that inflate to 80 MB
    body = b"2 0 obj << /Filter /FlateDecode >>\nstream\n%s\nendstream\nendobj\n" % bomb
    with pytest.raises(DocumentError) as exc:
        media_type_of(pdf(body))
    assert exc.value.code == "document_too_complex"


def test_pixel_bomb_is_refused_from_the_header_R03():
    with pytest.raises(DocumentError) as exc:
        media_type_of(png_header_only(30_000, 30_000))
    assert exc.value.code == "document_too_large_image"


def test_empty_and_over_limit_files_R03():
    with pytest.raises(DocumentError) as empty:
        media_type_of(b"")
    assert (empty.value.code, empty.value.status) == ("document_empty", 400)
    with pytest.raises(DocumentError) as big:
        media_type_of(pdf(b"%" + b"x" * MAX_BYTES))
    assert (big.value.code, big.value.status) == ("document_too_large", 413)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\poa.pdf", "poa.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe"),  # the RTL override is dropped
        ("a\x00b.pdf", "ab.pdf"),
        ("", "document"),
        ("x" * 300 + ".pdf", "x" * 120),
    ],
)
def test_uploaded_name_is_for_display_only_R04(raw, shown):
    assert display_name(raw) == shown


def test_unterminated_streams_are_scanned_in_one_pass():
    """Many ``stream`` keywords without ``endstream`` (a pathological upload) are read
    once, and a plain PDF around them is still a PDF."""
    assert media_type_of(pdf(b"stream\n" * 200_000)) == "application/pdf"
