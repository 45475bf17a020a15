"""The renderer: sandboxed templates, a fetcher that serves only the package's own files,
the CJK font on every line, one template in two languages, and batches split per document.

These tests need no database: templates get plain data, so the data is written here.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from pdf_helpers import flat, pdf_info, pdf_pages, pdf_text
from weasyprint.urls import FatalURLFetchingError

from invoices import render
from invoices.capitals import capitals
from invoices.messages import CATALOGUE, LANGUAGES, message


def receipt(number: str = "S1-R2026-000001", amount: int = 123456, household: str = "王小明家"):
    """A receipt's plain data, as ``invoices.data.receipt_data`` builds it (with its number)."""
    school = {
        "id": 1,
        "code": "S1",
        "name": "示范区第一实验小学",
        "district": "示范区",
        "funder": "示范区财政局",
        "bank_name": "示范银行",
        "bank_account": "6222000011112222",
        "complaints_phone": "0571-12345",
    }
    return {
        "number": number,
        "date": dt.date(2026, 9, 10),
        "payment": 7,
        "school": school,
        "household": {"id": 3, "name": household, "guardians": []},
        "amount": amount,
        "received_on": dt.date(2026, 9, 10),
        "method": "wechat",
        "reference": "",
        "received_into": "1002",
        "allocations": [{"invoice": "S1-2026-000001", "amount": amount}],
        "to_credit": 0,
        "returned": None,
    }


@pytest.fixture(scope="module")
def receipt_pdf() -> bytes:
    return render.render_pdf("receipt", receipt())


# --------------------------------------------------------------------------- fetching


def test_the_fetcher_serves_the_package_stylesheets() -> None:
    fetcher = render.PackageFetcher()
    response = fetcher.fetch((render.TEMPLATES / "base.css").as_uri())
    assert b"Noto Sans CJK SC" in response.read()
    assert response.content_type == "text/css"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        (render.TEMPLATES / ".." / ".." / "pyproject.toml").as_uri(),
        render.TEMPLATES.as_uri() + "/../../pyproject.toml",
        render.TEMPLATES.as_uri() + "/%2e%2e/%2e%2e/pyproject.toml",
        f"file://otherhost{render.TEMPLATES}/base.css",
        (render.TEMPLATES / "no-such.css").as_uri(),
    ],
)
def test_the_fetcher_refuses_files_outside_the_package_assets(url: str) -> None:
    with pytest.raises(render.AssetRefused):
        render.PackageFetcher().fetch(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x.css",
        "https://example.com/logo.png",
        "ftp://example.com/x",
        "data:text/css,html{color:red}",
    ],
)
def test_the_fetcher_refuses_the_network_and_other_schemes(url: str, monkeypatch) -> None:
    opened = []
    monkeypatch.setattr("urllib.request.OpenerDirector.open", lambda *a, **k: opened.append(a))
    with pytest.raises(render.AssetRefused):
        render.PackageFetcher().fetch(url)
    assert opened == []  # refused before any connection is attempted


@pytest.mark.parametrize(
    "tag",
    ['<link rel="stylesheet" href="file:///etc/passwd">', '<img src="http://127.0.0.1:9/x.png">'],
)
def test_a_document_that_fetches_outside_is_not_printed(tag: str) -> None:
    html = f"<html><head>{tag}</head><body><p>课后服务</p></body></html>"
    with pytest.raises(FatalURLFetchingError):
        render._document(html, "receipt", None)


# --------------------------------------------------------------------------- templates


def test_templates_render_in_a_sandbox_with_undefined_names_as_errors() -> None:
    env = render.environment()
    assert isinstance(env, SandboxedEnvironment)
    data = receipt()
    del data["reference"]
    with pytest.raises(UndefinedError, match="reference"):
        render.render_html("receipt", [data])


def test_data_is_escaped_not_interpreted() -> None:
    html = render.render_html("receipt", [receipt(household='<img src="http://x/">家')])
    assert '<img src="http://x/">' not in html
    assert "&lt;img src=&#34;http://x/&#34;&gt;家" in html


def test_an_unknown_document_or_language_is_refused() -> None:
    with pytest.raises(render.UnknownDocument):
        render.render_html("payslip", [receipt()])
    with pytest.raises(render.UnknownDocument):
        render.render_html("../base", [receipt()])
    with pytest.raises(ValueError, match="language"):
        render.render_html("receipt", [receipt()], "fr")


def test_the_catalogue_has_every_message_in_both_languages() -> None:
    for key, pair in CATALOGUE.items():
        assert len(pair) == len(LANGUAGES) and all(text.strip() for text in pair), key
    assert message("en", "receipt.title") != message("zh-CN", "receipt.title")
    with pytest.raises(KeyError):
        message("zh-CN", "no.such.key")


def test_every_template_names_the_cjk_font_on_html_and_in_page_margin_boxes() -> None:
    css = (render.TEMPLATES / "base.css").read_text(encoding="utf-8")
    page = css[css.index("@page") : css.index("\nhtml {")]
    assert page.count('font-family: "Noto Sans CJK SC"') >= 4  # @page and its 3 boxes
    assert 'html {\n  font-family: "Noto Sans CJK SC"' in css
    for kind in render.DOCUMENTS:
        folder = render.TEMPLATES / kind
        assert (folder / "template.html").is_file() and (folder / "theme.css").is_file()
        assert "@page" in (folder / "theme.css").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- PDF


def test_a_receipt_prints_its_chinese_text_number_and_amounts(receipt_pdf: bytes) -> None:
    text = pdf_text(receipt_pdf)
    assert "课后服务费收据" in text
    assert "示范区第一实验小学" in text and "王小明家" in text
    assert "S1-R2026-000001" in text
    assert "1,234.56" in text and capitals(123456) in flat(text)
    assert capitals(123456) == "壹仟贰佰叁拾肆元伍角陆分"
    # The running header in the page margin prints the school and title in Chinese too.
    assert text.count("示范区第一实验小学") >= 2 and text.count("课后服务费收据") >= 2
    info = pdf_info(receipt_pdf)
    assert info["/CreationDate"] == "D:20260910"


def test_the_same_data_renders_the_same_bytes(receipt_pdf: bytes) -> None:
    assert render.render_pdf("receipt", receipt()) == receipt_pdf


def test_english_comes_from_the_same_template() -> None:
    text = pdf_text(render.render_pdf("receipt", receipt(), "en"))
    assert "After-school service fee receipt" in text and "Amount received" in text
    assert "王小明家" in text and capitals(123456) in flat(text)
    assert "课后服务费收据" not in text


def test_a_batch_is_split_into_one_pdf_per_document() -> None:
    docs = [receipt(f"S1-R2026-00000{i}", 10000 * i + i, f"家庭{i}号") for i in (1, 2, 3)]
    pdfs = render.render_pdfs("receipt", docs)
    assert len(pdfs) == 3
    for i, pdf in enumerate(pdfs, start=1):
        text = pdf_text(pdf)
        assert pdf_pages(pdf) == 1
        assert f"S1-R2026-00000{i}" in text and f"家庭{i}号" in text
        assert capitals(10000 * i + i) in flat(text)
        others = {1, 2, 3} - {i}
        assert not any(f"S1-R2026-00000{j}" in text or f"家庭{j}号" in text for j in others)
        info = pdf_info(pdf)
        assert info["/Title"] == f"课后服务费收据 S1-R2026-00000{i}"
        assert info["/CreationDate"] == "D:20260910"


NO_CJK_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir></fontconfig>
"""

RENDER_WITHOUT_GUARD = textwrap.dedent(
    """
    import pickle, sys
    from invoices import render
    data = pickle.loads(open(sys.argv[1], "rb").read())
    try:
        render.require_cjk_font()
        print("guard: passed")
    except render.FontMissing:
        print("guard: refused")
    render.require_cjk_font = lambda: None  # print anyway, to see what the tests would see
    open(sys.argv[2], "wb").write(render.render_pdf("receipt", data))
    """
)


def test_without_the_cjk_font_printing_is_refused_and_the_text_checks_would_fail(
    tmp_path: Path, receipt_pdf: bytes
) -> None:
    """With a fontconfig that has no CJK font, the renderer refuses to print; forced to print,
    the Chinese text no longer extracts — so the extraction checks above catch a lost font."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(NO_CJK_FONTS.format(cache=tmp_path / "cache"), encoding="utf-8")
    (tmp_path / "data.pickle").write_bytes(pickle.dumps(receipt()))
    out = subprocess.run(
        [sys.executable, "-c", RENDER_WITHOUT_GUARD, tmp_path / "data.pickle", tmp_path / "o.pdf"],
        env={**os.environ, "FONTCONFIG_FILE": str(conf)},
        capture_output=True,
        text=True,
        cwd=Path(render.__file__).parent.parent,
        check=True,
    )
    assert out.stdout.strip() == "guard: refused"
    broken = pdf_text((tmp_path / "o.pdf").read_bytes())
    assert pdf_pages((tmp_path / "o.pdf").read_bytes()) == 1  # it printed a page...
    assert "课后服务费收据" not in broken and "王小明家" not in broken  # ...without the Chinese
    assert "课后服务费收据" in pdf_text(receipt_pdf)
    render.require_cjk_font()  # and in this process the font is there
