"""Batch rendering: a period's fee notices on every core, archived once, re-runnable.

The parent process reads the database and builds each notice's plain data;
worker processes only render (they never touch the database). Each worker
keeps one WeasyPrint :class:`FontConfiguration` and renders its documents in
chunks through :func:`invoices.render.render_pdfs` — one layout and one font
subset per chunk, split into one PDF per notice — which is where most of
the speed comes from (``bench/pdf.py``). The parent then archives every new
notice with :func:`invoices.archive.issue`; notices archived by an earlier
run are neither rendered nor stored again, so a re-run duplicates nothing
and renumbers nothing (invoice numbers come from billing anyway).
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.school.calendar import month_bounds
from ledger.school.errors import NotFound, RuleBroken
from ledger.school.models import Invoice, School, Term

from . import archive, data
from .models import IssuedDocument

__all__ = ["BatchResult", "invoices_for_period", "issue_invoices", "render_many"]

#: Documents per WeasyPrint call: large enough to share layout and fonts, small enough
#: that the work spreads evenly over the workers and progress moves.
CHUNK = 16

_PERIOD = re.compile(r"^(?:(?P<year>\d{4})-(?P<month>\d{2})|term:(?P<term>\d+))$")


def invoices_for_period(db: Session, school: School, period: str) -> list[Invoice]:
    """The school's invoices of a billing period, in number order; cancelled ones left out.

    ``period`` is ``YYYY-MM`` (invoices whose period starts in that month) or
    ``term:<id>`` (every invoice of the term's dates).
    """
    match = _PERIOD.match(period)
    if match is None:
        raise RuleBroken("invalid_period", "period is YYYY-MM or term:<id>", field="period")
    q = select(Invoice).where(Invoice.school_id == school.id, Invoice.status != "cancelled")
    if match["term"]:
        term = db.get(Term, int(match["term"]))
        if term is None or term.school_id != school.id:
            raise NotFound(f"no term {match['term']} at school {school.code}")
        q = q.where(Invoice.period_start >= term.start, Invoice.period_end <= term.end)
    else:
        year, month = int(match["year"]), int(match["month"])
        if not 1 <= month <= 12:
            raise RuleBroken("invalid_period", f"no month {month}", field="period")
        first, last = month_bounds(year, month)
        q = q.where(Invoice.period_start >= first, Invoice.period_start <= last)
    return list(db.scalars(q.order_by(Invoice.year, Invoice.seq)))


# --------------------------------------------------------------------------- rendering

_font_config: Any = None


def _start_worker() -> None:
    """One font configuration per worker, reused for every chunk it renders."""
    global _font_config
    from weasyprint.text.fonts import FontConfiguration

    _font_config = FontConfiguration()


def _render_chunk(kind: str, language: str, docs: list[dict[str, Any]]) -> list[bytes]:
    from .render import render_pdfs

    return render_pdfs(kind, docs, language, font_config=_font_config)


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def render_many(
    kind: str,
    docs: Sequence[dict[str, Any]],
    language: str = "zh-CN",
    *,
    workers: int | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> list[bytes]:
    """Render documents of one kind on ``workers`` processes (default: every core), in order.

    ``progress(n)`` is called in the parent as each chunk of ``n`` documents is done.
    """
    if not docs:
        return []
    workers = workers or os.cpu_count() or 1
    # Spread small batches over every worker rather than leaving some idle.
    chunk = max(1, min(chunk, -(-len(docs) // workers)))
    parts = list(_chunks(docs, chunk))
    if workers == 1:
        _start_worker()
        out = []
        for part in parts:
            out.extend(_render_chunk(kind, language, part))
            if progress:
                progress(len(part))
        return out
    # fork: workers inherit the loaded WeasyPrint and warm font caches; they never use the
    # parent's database connections.
    context = multiprocessing.get_context("fork")
    results: list[list[bytes]] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        futures = [pool.submit(_render_chunk, kind, language, part) for part in parts]
        for part, future in zip(parts, futures, strict=True):
            results.append(future.result())
            if progress:
                progress(len(part))
    return [pdf for part in results for pdf in part]


# --------------------------------------------------------------------------- issuing


@dataclass
class BatchResult:
    documents: list[IssuedDocument] = field(default_factory=list)
    rendered: int = 0
    already_issued: int = 0


def issue_invoices(
    db: Session,
    school: School,
    invoices: Sequence[Invoice],
    *,
    language: str,
    actor: str,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Issue the fee notices of ``invoices``: render those not yet archived, archive them.

    Flushes; the caller commits once. Returns every notice's archived row, in
    the order given.
    """
    result = BatchResult()
    found = (
        {
            row.source: row
            for row in db.scalars(
                select(IssuedDocument).where(
                    IssuedDocument.school_id == school.id,
                    IssuedDocument.kind == "invoice",
                    IssuedDocument.language == language,
                    IssuedDocument.source.in_([f"invoice:{i.id}" for i in invoices]),
                )
            )
        }
        if invoices
        else {}
    )
    todo = [i for i in invoices if f"invoice:{i.id}" not in found]
    result.already_issued = len(invoices) - len(todo)
    if progress and result.already_issued:
        progress(result.already_issued)
    docs = [data.invoice_data(db, i) for i in todo]
    pdfs = render_many("invoice", docs, language, workers=workers, progress=progress)
    for invoice, values, pdf in zip(todo, docs, pdfs, strict=True):
        found[f"invoice:{invoice.id}"] = archive.issue(
            db,
            school,
            "invoice",
            f"invoice:{invoice.id}",
            language,
            values,
            actor=actor,
            household_id=invoice.household_id,
            pdf=pdf,
        )
    result.rendered = len(todo)
    result.documents = [found[f"invoice:{i.id}"] for i in invoices]
    return result
