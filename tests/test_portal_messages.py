"""The portal's message catalogue: both languages for every key, and every key a page uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint

import api.portal
from api.portal import messages
from invoices.data import LINE_KINDS
from ledger.school.fees import Unit, WaiverCover
from ledger.school.models import PROGRAMME_KINDS, Application, CreditRecord, Invoice

TEMPLATES = Path(api.portal.__file__).parent / "templates" / "portal"
SOURCES = [*TEMPLATES.glob("*.html"), *Path(api.portal.__file__).parent.glob("*.py")]


def _allowed(table, name: str) -> list[str]:
    """The values a CHECK constraint ``name`` of ``table`` allows (``col IN ('a', 'b')``)."""
    [check] = [
        c
        for c in table.__table__.constraints
        if isinstance(c, CheckConstraint) and str(c.name).endswith(name)
    ]
    return re.findall(r"'(\w+)'", str(check.sqltext))


#: Keys built in templates from a prefix and a code, with every code they can get.
DYNAMIC = {
    "app_status.": [*_allowed(Application, "status_known"), "enrolled", "withdrawn"],
    "invoice_status.": _allowed(Invoice, "status_known"),
    "credit_reason.": _allowed(CreditRecord, "reason_known"),
    "kind.": list(PROGRAMME_KINDS),
    "unit.": [u.value for u in Unit],
    "cover.": [c.value for c in WaiverCover],
    "line.": list(LINE_KINDS),
    "payer.": ["government", "school", "parent"],
    "lang.": list(messages.LANGUAGES),
}


def test_every_key_has_both_languages_with_the_same_placeholders():
    for key, (zh, en) in messages.MESSAGES.items():
        assert zh.strip() and en.strip(), key
        assert sorted(re.findall(r"{(\w*)}", zh)) == sorted(re.findall(r"{(\w*)}", en)), key


def _keys_in_python(source: str) -> set[str]:
    """String constants of the portal's code that look like catalogue keys (``login.failed``)."""
    prefixes = {key.split(".")[0] for key in messages.MESSAGES if "." in key}
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[a-z_]+\.[a-z_.]+", node.value)
        and node.value.split(".")[0] in prefixes
    }


def test_every_literal_key_used_by_the_portal_exists():
    used = set()
    for path in SOURCES:
        source = path.read_text()
        if path.suffix == ".html":
            used.update(re.findall(r"""\bt\(\s*["']([\w.\-]+)["']\s*[,)]""", source))
        elif path.name != "messages.py":
            used.update(_keys_in_python(source))
    assert {"login.failed", "apply.done", "error.csrf", "overview.title", "invoice.why"} <= used
    assert sorted(used - set(messages.MESSAGES)) == []


@pytest.mark.parametrize("prefix", sorted(DYNAMIC))
def test_every_key_built_from_a_code_exists(prefix):
    assert any(f'"{prefix}" ~' in p.read_text() for p in SOURCES), f"{prefix} is not used"
    missing = [code for code in DYNAMIC[prefix] if f"{prefix}{code}" not in messages.MESSAGES]
    assert missing == []


def test_an_unknown_key_is_an_error_unless_a_default_is_given():
    with pytest.raises(KeyError):
        messages.translate("no.such.key", "en")
    assert messages.translate("reason.free text", "en", default="free text") == "free text"
    assert messages.translate("money", "en", amount="1.00") == "¥1.00"
    assert messages.translate("nav.logout", "en") == "Log out"
    assert messages.translate("nav.logout", "zh-CN") == "退出登录"


def test_domain_refusals_have_their_own_message_or_a_general_one():
    assert messages.rule_key("application_exists") == "rule.application_exists"
    assert messages.rule_key("some_new_rule") == "rule.other"
