"""Photos people attach (a corrective action, a checklist): capped in size, and checked to
be a real JPEG or PNG by decoding it, so a renamed file or a truncated one is refused."""

from __future__ import annotations

from starlette.datastructures import UploadFile

from agent.core.recorder import Photo

KINDS = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png")}


class UploadError(ValueError):
    """The upload is refused; the message (a catalog id) says why, on the page."""


async def read_photo(upload: object, max_bytes: int) -> Photo | None:
    """The checked photo of a form field; None when no file was chosen."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    content = await upload.read(max_bytes + 1)
    if not content:
        return None
    if len(content) > max_bytes:
        raise UploadError("The photo is too large")
    return check_photo(content)


async def read_document(upload: object, max_bytes: int) -> Photo | None:
    """A checked document (a PDF, or a JPEG or PNG scan) of a form field; None when none was chosen."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    content = await upload.read(max_bytes + 1)
    if not content:
        return None
    if len(content) > max_bytes:
        raise UploadError("The document is too large")
    if content.startswith(b"%PDF-"):
        if b"%%EOF" not in content[-1024:]:
            raise UploadError("The document must be a PDF, JPEG or PNG file")
        return Photo(content, "application/pdf", ".pdf")
    try:
        return check_photo(content)
    except UploadError:
        raise UploadError("The document must be a PDF, JPEG or PNG file") from None


MARKDOWN_SUFFIXES = (".md", ".markdown", ".txt")


async def read_library_file(upload: object, max_bytes: int) -> Photo | None:
    """A knowledge-library document: a PDF, a JPEG or PNG, or Markdown text (UTF-8, no
    control bytes), checked by its content; None when none was chosen."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    if upload.filename.lower().endswith(MARKDOWN_SUFFIXES):
        content = await upload.read(max_bytes + 1)
        if len(content) > max_bytes:
            raise UploadError("The document is too large")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadError("The document must be a PDF, an image or Markdown text") from None
        if not text.strip() or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
            raise UploadError("The document must be a PDF, an image or Markdown text")
        return Photo(content, "text/markdown", ".md")
    await upload.seek(0)
    try:
        return await read_document(upload, max_bytes)
    except UploadError as exc:
        if str(exc) == "The document is too large":
            raise
        raise UploadError("The document must be a PDF, an image or Markdown text") from None


def check_photo(content: bytes) -> Photo:
    kind = next((k for magic, k in KINDS.items() if content.startswith(magic)), None)
    if kind is None or not _decodes(content):
        raise UploadError("The photo must be a JPEG or PNG image")
    return Photo(content, *kind)


def _decodes(content: bytes) -> bool:
    import cv2  # late: only a photo upload needs it
    import numpy as np

    image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    return image is not None and image.size > 0
