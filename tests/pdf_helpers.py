"""Reading PDFs back in tests: the text a reader (or a screen reader, or a search) gets."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    """Every page's extracted text, pages joined by newlines."""
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(text: str) -> str:
    """The text without whitespace, for phrases that a table cell may wrap."""
    return re.sub(r"\s+", "", text)


def pdf_pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def pdf_info(pdf: bytes) -> dict[str, str]:
    return {k: str(v) for k, v in (PdfReader(io.BytesIO(pdf)).metadata or {}).items()}
