"""HTML and PDF from plain data: a sandboxed Jinja environment and a locked-down WeasyPrint.

Each document is a folder under ``templates/`` holding ``template.html`` and
``theme.css`` (with its ``@page`` rules); ``templates/base.html`` and
``templates/base.css`` are shared. Templates get plain data (dicts built by
:mod:`invoices.data`), never ORM objects, and render in a
:class:`~jinja2.sandbox.SandboxedEnvironment` with :class:`~jinja2.StrictUndefined`
(a misspelt field is an error, not an empty cell) and autoescape (a household
named ``<script>`` prints as text).

WeasyPrint fetches through :class:`PackageFetcher`, which serves only files
inside this package's ``templates`` and ``assets`` folders: no ``file://``
anywhere else, no network, no ``data:``. A refused fetch stops the rendering
instead of printing a document with a hole in it.

The CJK font (Noto Sans CJK SC from Debian's fonts-noto-cjk) is set on
``html`` and again in every ``@page`` margin box, which inherit from the page,
not from ``body``. Chinese is the default language; English comes from the
same template through the message catalogue in :mod:`invoices.messages`.

:func:`render_pdfs` renders many documents of one kind in one WeasyPrint call
(one page run per document, each starting on a new page) and splits the
result into one PDF per document: layout and font subsetting are paid once
per batch instead of once per document, which is what makes batch rendering
fast (see ``bench/pdf.py``).
"""

from __future__ import annotations

import datetime as dt
import io
import mimetypes
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import FileSystemLoader, StrictUndefined, pass_context
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ledger.money import format_fen

from .capitals import capitals
from .messages import LANGUAGES, message

__all__ = [
    "DOCUMENTS",
    "AssetRefused",
    "FontMissing",
    "PackageFetcher",
    "UnknownDocument",
    "render_html",
    "render_pdf",
    "render_pdfs",
]

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
ASSETS = PACKAGE / "assets"
#: Folders whose files WeasyPrint may read.
ASSET_ROOTS = (TEMPLATES, ASSETS)
#: The documents there are templates for.
DOCUMENTS = (
    "invoice",
    "receipt",
    "statement",
    "subsidy_claim",
    "disclosure",
    "payout_sheet",
    "remittance",
    "audit_report",
    "coverage",
    "dashboard",
)
#: The font every document prints with: Chinese first, Latin from the same family.
CJK_FONT = "Noto Sans CJK SC"


class FontMissing(RuntimeError):
    """The CJK font is not installed: Chinese would print as empty boxes."""


@cache
def cjk_font_family() -> str:
    """The family fontconfig gives for :data:`CJK_FONT` (another one when it is missing)."""
    from weasyprint.text.ffi import ffi, fontconfig

    config = fontconfig.FcInitLoadConfigAndFonts()
    pattern = fontconfig.FcPatternCreate()
    try:
        fontconfig.FcPatternAddString(pattern, b"family", CJK_FONT.encode())
        fontconfig.FcConfigSubstitute(config, pattern, fontconfig.FcMatchPattern)
        fontconfig.FcDefaultSubstitute(pattern)
        result = ffi.new("FcResult *")
        match = fontconfig.FcFontMatch(config, pattern, result)
        if match == ffi.NULL:
            return ""
        family = ffi.new("FcChar8 **")
        found = fontconfig.FcPatternGetString(match, b"family", 0, family)
        name = ffi.string(family[0]).decode() if found == fontconfig.FcResultMatch else ""
        fontconfig.FcPatternDestroy(match)
        return name
    finally:
        fontconfig.FcPatternDestroy(pattern)
        fontconfig.FcConfigDestroy(config)


def require_cjk_font() -> None:
    """Refuse to print a document without the CJK font (Debian: ``fonts-noto-cjk``)."""
    family = cjk_font_family()
    if family != CJK_FONT:
        raise FontMissing(
            f"the font {CJK_FONT!r} is not installed (fontconfig offers {family!r} instead); "
            "install fonts-noto-cjk"
        )


class UnknownDocument(LookupError):
    """A document kind with no template folder."""


class AssetRefused(ValueError):
    """A URL that the renderer must not fetch: outside the package's assets, or not a file."""


class PackageFetcher(URLFetcher):
    """Serve ``file://`` URLs inside :data:`ASSET_ROOTS`; refuse everything else."""

    def __init__(self) -> None:
        super().__init__(fail_on_errors=True, allowed_protocols=("file",))

    @staticmethod
    def resolve(url: str) -> Path:
        """The package file a URL names, or :class:`AssetRefused`."""
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise AssetRefused(f"only the package's own files are fetched, not {url!r}")
        if parts.netloc not in ("", "localhost"):
            raise AssetRefused(f"no remote files: {url!r}")
        path = Path(unquote(parts.path)).resolve()
        if not any(path.is_relative_to(root) for root in ASSET_ROOTS) or not path.is_file():
            raise AssetRefused(f"{url!r} is outside the documents' assets")
        return path

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        path = self.resolve(url)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        content_type = f"{mime}; charset=utf-8" if mime.startswith("text/") else mime
        return URLFetcherResponse(
            path.as_uri(), path.read_bytes(), headers={"Content-Type": content_type}
        )


# --------------------------------------------------------------------------- Jinja


def _money(fen: int) -> str:
    """Integer fen as ``1,234.56`` (grouped for reading; JSON keeps ``"1234.56"``)."""
    text = format_fen(fen)
    sign = "-" if text.startswith("-") else ""
    yuan, cents = text.lstrip("-").split(".")
    return f"{sign}{int(yuan):,}.{cents}"


@pass_context
def _date(context: Any, value: dt.date | None) -> str:
    if value is None:
        return ""
    if context["lang"] == "zh-CN":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


@pass_context
def _t(context: Any, key: str, **values: Any) -> str:
    return message(context["lang"], key, **values)


@pass_context
def _label(context: Any, code: str | None, group: str) -> str:
    """A code (a unit, a kind, a reason) in the document's language; unknown codes as given."""
    if code is None:
        return ""
    return message(context["lang"], f"{group}.{code}", default=code)


@pass_context
def _weekdays(context: Any, days: str) -> str:
    """ISO weekday digits (``"12345"``) as day names: 周一、周二… / Mon, Tue…"""
    return message(context["lang"], "sep.list").join(
        message(context["lang"], f"weekday.{day}") for day in days
    )


@cache
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money, capitals=capitals, date=_date, label=_label, weekdays=_weekdays
    )
    env.globals.update(t=_t, font=CJK_FONT)
    return env


def _template_dir(kind: str) -> Path:
    if kind not in DOCUMENTS:
        raise UnknownDocument(f"no document {kind!r}; documents are {', '.join(DOCUMENTS)}")
    return TEMPLATES / kind


def render_html(kind: str, docs: Sequence[Mapping[str, Any]], language: str = "zh-CN") -> str:
    """The HTML of one or more documents of a kind, each starting on a new page."""
    folder = _template_dir(kind)
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    if not docs:
        raise ValueError("nothing to render")
    return (
        environment()
        .get_template(f"{kind}/template.html")
        .render(
            docs=list(docs),
            lang=language,
            kind=kind,
            theme=(folder / "theme.css").as_uri(),
            base_css=(TEMPLATES / "base.css").as_uri(),
        )
    )


# --------------------------------------------------------------------------- PDF


def _document(html: str, kind: str, font_config: FontConfiguration | None) -> Any:
    require_cjk_font()
    return HTML(
        string=html, base_url=_template_dir(kind).as_uri() + "/", url_fetcher=PackageFetcher()
    ).render(font_config=font_config or FontConfiguration())


def render_pdf(
    kind: str,
    data: Mapping[str, Any],
    language: str = "zh-CN",
    *,
    font_config: FontConfiguration | None = None,
) -> bytes:
    """One document as PDF bytes."""
    return _document(render_html(kind, [data], language), kind, font_config).write_pdf()


def render_pdfs(
    kind: str,
    docs: Sequence[Mapping[str, Any]],
    language: str = "zh-CN",
    *,
    font_config: FontConfiguration | None = None,
) -> list[bytes]:
    """Many documents of one kind, rendered in one pass and split into one PDF each.

    Each document's first page carries the anchor ``doc-<i>``; a document runs
    from its first page to the page before the next one's. Fonts are subset
    once for the whole batch, so each PDF carries the glyphs of the batch.
    """
    from pypdf import PdfReader, PdfWriter

    if len(docs) == 1:
        return [render_pdf(kind, docs[0], language, font_config=font_config)]
    document = _document(render_html(kind, docs, language), kind, font_config)
    starts: dict[int, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor.startswith("doc-"):
                starts.setdefault(int(anchor[4:]), number)
    if sorted(starts) != list(range(len(docs))):
        raise RuntimeError("a document in the batch has no first page")  # a template bug
    reader = PdfReader(io.BytesIO(document.write_pdf()))
    producer = (reader.metadata or {}).get("/Producer", "WeasyPrint")
    bounds = [starts[i] for i in range(len(docs))] + [len(document.pages)]
    out = []
    for i, doc in enumerate(docs):
        writer = PdfWriter()
        for number in range(bounds[i], bounds[i + 1]):
            writer.add_page(reader.pages[number])
        writer.add_metadata(_metadata(kind, doc, language, producer))
        buffer = io.BytesIO()
        writer.write(buffer)
        out.append(buffer.getvalue())
    return out


def _metadata(kind: str, doc: Mapping[str, Any], language: str, producer: str) -> dict[str, str]:
    """The PDF information of one document of a batch, as WeasyPrint writes it for one alone."""
    title = message(language, f"{kind}.title")
    day = f"D:{doc['date']:%Y%m%d}"
    return {
        "/Title": f"{title} {doc['number']}" if doc.get("number") else title,
        "/Creator": "Kehou Ledger",
        "/Producer": producer,
        "/CreationDate": day,
        "/ModDate": day,
    }
