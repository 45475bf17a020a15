"""Crash safety: a billing run and a document batch killed with SIGKILL halfway, then run again.

Both commands do all their writing in ONE database transaction.
``kehou billing run`` opens the household accounts, posts every charge
entry, numbers and writes the invoices and charges, records the run and its
audit line, and commits once; ``kehou documents render`` renders every fee
notice, archives them all, commits once and only then writes the PDF files.
So a kill in the middle leaves nothing behind (the tests assert exactly
that: the same row counts as before the command started, no files) and
running the command again must give what one uninterrupted run gives on a
copy of the same database: the same charges per enrolment with the same
amounts, the same invoices numbered 1..n with none skipped or repeated, the
same entries and trial balance, a verifying chain; the same fee notices,
each archived once, with the same numbers and the same SHA-256.

"Halfway" is not guessed with a sleep. The test reads the command's own
progress on stderr — ``invoicing 0/N`` is printed after all N charge entries
are posted and before the invoices are written; ``rendered k/N`` with
0 < k < N while notices are still being rendered — then freezes the process
with SIGSTOP, checks from another connection that nothing is committed yet
(on PostgreSQL also that the command is inside its transaction and, for
billing, that the transaction has written rows: its backend holds a
transaction id), and kills it with SIGKILL.

Runs on SQLite (files in a temporary folder) and, with
``KEHOU_TEST_DATABASE_URL``, on PostgreSQL (databases of its own, dropped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from realistic_school import (
    billing_state,
    build_school,
    clone_database,
    documents_state,
    drop_database,
)
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from invoices.models import IssuedDocument
from ledger import books
from ledger.database import make_engine
from ledger.school import billing
from ledger.school.models import (
    BillingRun,
    ChargeRecord,
    DocumentCounter,
    Invoice,
    School,
    Term,
)

BILLING_STUDENTS = 1200  # about 1,500 enrolments and 750 households
DOCUMENT_STUDENTS = 30  # about 20 fee notices: a chunk for each of two render workers
WAIT_SECONDS = 120  # only so that a command that hangs cannot hang the run
TESTS = Path(__file__).parent
SERVER_URL = os.environ.get("KEHOU_TEST_DATABASE_URL")


def _is_pg(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _server(url: str) -> str | None:
    return SERVER_URL if _is_pg(url) else None


def _env(url: str, home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "KEHOU_DATABASE_URL": url,
        "KEHOU_INSTANCE_PATH": str(home),
        "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")]),
    }
    for name in ("KEHOU_TEST_DATABASE_URL", "KEHOU_QUEUE_URL"):
        env.pop(name, None)
    return env


def _kehou(*args: str) -> list[str]:
    return [sys.executable, "-c", "from api.cli import main; main()", *args]


def _named(url: str, name: str) -> str:
    """The URL with a PostgreSQL application name, to find the command's backend by."""
    if not _is_pg(url):
        return url
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(False)


def _start(args: tuple[str, ...], url: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _kehou(*args),
        env=_env(url, home),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the render workers die with it
    )


def _run_side_by_side(home: Path, *runs: tuple[tuple[str, ...], str]) -> list[str]:
    """Run each ``(args, url)`` command to completion, at the same time; their stdout."""
    procs = [_start(args, url, home) for args, url in runs]
    try:
        done = [proc.communicate(timeout=WAIT_SECONDS) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                _kill(proc)
    for proc, (out, err) in zip(procs, done, strict=True):
        assert proc.returncode == 0, (out, err[-3000:])
    return [out for out, _ in done]


def _read_until(proc: subprocess.Popen[str], wanted: Callable[[str], bool]) -> list[str]:
    """The command's stderr lines up to and including the first one ``wanted``."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line.strip())
        if wanted(seen[-1]):
            return seen
    proc.wait()
    pytest.fail(f"the command ended ({proc.returncode}) before the point to kill it: {seen[-20:]}")


def _kill(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGKILL the command, then whatever it had forked (its render workers); its output."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):  # nothing forked, or gone already
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate(timeout=WAIT_SECONDS)


def _poll(what: str, done: Callable[[], bool]) -> None:
    """Wait for a state of the database (not for time to pass); fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


#: The command's PostgreSQL backends: all, those inside a transaction, those whose
#: transaction has written rows (a transaction id is assigned at the first write).
_ANY, _IN_TRANSACTION, _WROTE = "", " AND xact_start IS NOT NULL", " AND backend_xid IS NOT NULL"


def _backends(url: str, name: str, where: str = _ANY) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n" + where),
                {"n": name},
            )
    finally:
        engine.dispose()


def _counts(url: str) -> dict[str, int]:
    """Committed rows of every table a billing run or a document batch writes."""
    tables = {
        "accounts": books.Account,
        "entries": books.Entry,
        "postings": books.Posting,
        "charges": ChargeRecord,
        "invoices": Invoice,
        "billing_runs": BillingRun,
        "document_counters": DocumentCounter,
        "issued_documents": IssuedDocument,
    }
    # A plain engine: on SQLite, make_engine's BEGIN IMMEDIATE would wait for the frozen
    # command's write lock; a reader in WAL mode reads the last commit without waiting.
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            counts = {
                name: db.scalar(select(func.count()).select_from(model))
                for name, model in tables.items()
            }
            counts["audit_log"] = db.scalar(text("SELECT count(*) FROM audit_log"))
            counts["balance_sum"] = db.scalar(
                select(func.coalesce(func.sum(books.Balance.debit + books.Balance.credit), 0))
            )
            return counts
    finally:
        engine.dispose()


def _kill_halfway(
    args: tuple[str, ...],
    url: str,
    home: Path,
    halfway: Callable[[str], bool],
    *,
    written: bool,
) -> tuple[list[str], str]:
    """Start the command, freeze it at ``halfway``, check nothing is committed, SIGKILL it.

    ``written``: at that point the command's transaction has written rows (else it has
    only read so far, inside its open transaction).
    """
    before = _counts(url)
    name = f"kehou-crash-{uuid.uuid4().hex[:8]}"
    proc = _start(args, _named(url, name), home)
    try:
        seen = _read_until(proc, halfway)
        os.kill(proc.pid, signal.SIGSTOP)
        # Frozen in the middle: its work so far is not visible to anyone else ...
        assert _counts(url) == before
        if _is_pg(url):
            # ... though it is inside its transaction (and, for billing, has written rows).
            assert _backends(url, name, _WROTE if written else _IN_TRANSACTION) == 1
    finally:
        out, err = _kill(proc)
    assert proc.returncode == -signal.SIGKILL, (out, err[-3000:])
    if _is_pg(url):
        # The server notices the dead client and rolls its transaction back.
        _poll("the killed command's backend to end", lambda: _backends(url, name) == 0)
    # The kill left nothing behind: one transaction, never committed.
    assert _counts(url) == before
    return seen, out


def test_a_billing_run_killed_halfway_and_run_again_bills_what_one_run_bills(
    throwaway_url: str, tmp_path: Path
) -> None:
    """Killed after posting every charge entry, before writing the invoices: one transaction,
    so nothing is left; the second run bills it all, exactly as one run on a copy does."""
    built = build_school(throwaway_url, students=BILLING_STUDENTS)
    reference = clone_database(throwaway_url, _server(throwaway_url))
    try:
        args = (
            "billing",
            "run",
            "--school",
            built.school_code,
            "--term",
            str(built.term_id),
            "--issued-on",
            "2026-09-01",
        )
        seen, out = _kill_halfway(
            args,
            throwaway_url,
            tmp_path,
            lambda line: line.startswith("invoicing 0/"),
            written=True,
        )
        # Killed after every charge entry was posted, before the invoices were written.
        posted = [int(m[1]) for line in seen if (m := re.fullmatch(r"posting (\d+)/\1", line))]
        assert posted == [built.enrolments]  # every enrolment has a charge
        assert "billed" not in out

        # Run it again; and, on the copy made before, once without interruption.
        again, uninterrupted = _run_side_by_side(tmp_path, (args, throwaway_url), (args, reference))
        assert again.startswith(f"billed {built.enrolments} charge(s)"), again
        assert "; 0 already billed;" in again
        assert again == uninterrupted  # the same totals, to the fen

        # Sound books, each enrolment billed once, invoices 1..n (checked by billing_state),
        # and the same charges, invoices, entries and trial balance as the uninterrupted run.
        state = billing_state(throwaway_url, built.school_code)
        assert state == billing_state(reference, built.school_code)
        assert len(state["charges"]) == built.enrolments
        assert state["runs_with_charges"] == 1
        assert state["entry_numbers"] == list(range(1, built.enrolments + 1))
    finally:
        drop_database(reference, _server(throwaway_url))


def test_a_document_batch_killed_halfway_and_run_again_issues_each_notice_once(
    throwaway_url: str, tmp_path: Path
) -> None:
    """Killed with some notices rendered and none archived: one transaction, files after the
    commit, so nothing is left; the second batch issues each notice once, as one batch does."""
    built = build_school(throwaway_url, students=DOCUMENT_STUDENTS, code="CS2")
    engine = make_engine(throwaway_url)
    try:
        with Session(engine) as db:
            school = db.scalar(select(School).where(School.code == built.school_code))
            billing.run_billing(
                db,
                school,
                db.get(Term, built.term_id),
                actor="fin@test",
                issued_on=dt.date(2026, 9, 1),
            )
            db.commit()
            numbers = list(db.scalars(select(Invoice.number).order_by(Invoice.seq)))
    finally:
        engine.dispose()
    n = len(numbers)
    assert numbers == [f"{built.school_code}-2026-{i:06d}" for i in range(1, n + 1)]
    reference = clone_database(throwaway_url, _server(throwaway_url))
    try:
        out_dir, reference_dir = tmp_path / "out", tmp_path / "reference"
        args = (
            "documents",
            "render",
            "--school",
            built.school_code,
            "--period",
            f"term:{built.term_id}",
            "--workers",
            "2",
        )

        def partly_rendered(line: str) -> bool:
            m = re.fullmatch(r"rendered (\d+)/(\d+)", line)
            return m is not None and 0 < int(m[1]) < int(m[2])

        seen, out = _kill_halfway(
            (*args, "--out", str(out_dir)), throwaway_url, tmp_path, partly_rendered, written=False
        )
        done, total = (int(x) for x in seen[-1].removeprefix("rendered ").split("/"))
        assert 0 < done < total == n
        assert "fee notice(s)" not in out
        assert not out_dir.exists() or not any(out_dir.iterdir())  # files come after the commit

        again, uninterrupted = _run_side_by_side(
            tmp_path,
            ((*args, "--out", str(out_dir)), throwaway_url),
            ((*args, "--out", str(reference_dir)), reference),
        )
        assert f"{n} rendered, 0 already issued" in again, again
        assert uninterrupted.replace(str(reference_dir), str(out_dir)) == again

        # Each notice archived once, numbered as its invoice (1..n, none skipped or repeated),
        # its SHA-256 that of its bytes: the same notices as the uninterrupted batch's.
        state = documents_state(throwaway_url, built.school_code)
        assert state == documents_state(reference, built.school_code)
        notices = state["notices"]
        assert [number for _, _, number, _ in notices] == numbers
        # The files written are the archived bytes.
        files = {p.name: p.read_bytes() for p in out_dir.iterdir()}
        assert sorted(files) == [f"{number}.pdf" for number in numbers]
        assert {name: hashlib.sha256(pdf).hexdigest() for name, pdf in files.items()} == {
            f"{number}.pdf": sha for _, _, number, sha in notices
        }
        assert files == {p.name: p.read_bytes() for p in reference_dir.iterdir()}
        # Nothing was numbered again: the invoice counter is where billing left it.
        counts = _counts(throwaway_url)
        assert counts["issued_documents"] == n
        assert counts == _counts(reference)
        engine = make_engine(throwaway_url)
        try:
            with Session(engine) as db:
                assert db.execute(select(DocumentCounter.kind, DocumentCounter.last)).all() == [
                    ("invoice", n)
                ]
        finally:
            engine.dispose()
    finally:
        drop_database(reference, _server(throwaway_url))
