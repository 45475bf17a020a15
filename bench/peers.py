"""Peer comparison: single-entry commits in Kehou against python-accounting and django-hordak.

The workload is the one of ``bench/post.py``'s *service single* measurement:
entries of two postings each (debit the bank account, credit a revenue
account, same amount), one committed database transaction per entry. Every
path first posts ``--warmup`` entries untimed, then ``--single`` entries
timed, on a database of its own created for the measurement; afterwards,
outside the clock, the row counts and the bank account's debits are checked.
All paths get the same input (dates, memos, references, amounts) from
``post.make_specs``.

kehou (SQLite and PostgreSQL)
    ``post.service_single`` on a database from ``post.fresh``: one ``Session``
    and ``post_entry`` per entry, then ``commit``; checked with ``post.check``.
python-accounting 2.0.0 (SQLite)
    One ``JournalEntry`` per entry, its main account the revenue account
    (credited), with one ``LineItem`` on the bank account, then
    ``journal_entry.post(session)``, as the library's README shows. ``post``
    commits by itself, once per line item, so each entry is one transaction.
    The engine gets the same durability settings as Kehou's (WAL,
    ``synchronous=FULL``, foreign keys on).
django-hordak 2.0.0 (PostgreSQL)
    ``revenue.transfer_to(bank, Money(...), date=..., description=...)``: one
    ``Transaction`` and two ``Leg`` rows in its own ``transaction.atomic()``
    (``transfer_to`` is decorated with it), in Django's default autocommit mode,
    ``synchronous_commit=on`` as for Kehou.

The peers are never installed into the project's environment: they live in a
virtualenv of their own (default ``~/.cache/kehou-bench/peers-venv``, or
``--venv DIR``), created on the first run and reused while its requirements
stay the same (``--fresh-venv`` rebuilds it; delete the folder to get rid of
it). This file is also the driver that runs inside that venv (``--driver``);
it then imports nothing from the project.

Usage::

    python bench/peers.py [--postgres URL] [--single N] [--warmup N] [--rounds R] [--quick]

The PostgreSQL server may also be named by ``KEHOU_BENCH_PG``. Without one,
only the SQLite pair is measured. Reported: entries/s of each path and the
ratios kehou ÷ peer (goals: at least 20 against python-accounting on SQLite,
at least 2 against django-hordak on PostgreSQL). The script prints figures and
never judges them by its exit code; its last line is one JSON object. A peer
that cannot be installed or run is reported with the reason, and the rest is
still measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOALS = {"python_accounting_sqlite": 20.0, "hordak_pg": 2.0}

# What goes into the peers' venv. python-accounting 2.0.0 requires mysqlclient
# and psycopg2 unconditionally, but they are only its MySQL and PostgreSQL
# drivers; mysqlclient has no wheel and will not build without the MySQL client
# headers. When the plain install fails, the package is installed with
# --no-deps and its other requirements (copied from its metadata) by hand.
HORDAK_REQUIREMENTS = ["django-hordak==2.0.0", "psycopg[binary]>=3.1,<4"]
PA_REQUIREMENT = "python-accounting==2.0.0"
PA_RUNTIME_DEPS = ["sqlalchemy>=2.1.4,<2.2", "python-dateutil>=2.9.0.post0,<3"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- drivers
#
# These run inside the peers' venv and import only the peer and the standard
# library. Each one reads the entries from a JSON file, sets its database up,
# posts the warm-up entries, times the rest, checks the rows and prints one JSON
# object on its last stdout line.


def _load_specs(path: str) -> list[tuple[dt.date, str, str, int]]:
    with open(path, encoding="utf-8") as f:
        return [
            (dt.date.fromisoformat(d), memo, ref, amount) for d, memo, ref, amount in json.load(f)
        ]


def _yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def drive_python_accounting(db_url: str, specs_path: str, warmup: int) -> dict[str, Any]:
    from importlib.metadata import version

    from python_accounting.database.session import get_session
    from python_accounting.models import Account, Balance, Base, Currency, Entity, Ledger, LineItem
    from python_accounting.transactions import JournalEntry
    from sqlalchemy import create_engine, event, func, select

    specs = _load_specs(specs_path)
    engine = create_engine(db_url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # Kehou's durability settings
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    counts = {"statements": 0, "commits": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        counts["statements"] += 1

    @event.listens_for(engine, "commit")
    def _commit(*_args: Any) -> None:
        counts["commits"] += 1

    Base.metadata.create_all(engine)
    # python-accounting keeps one reporting period per calendar year and creates
    # the current year's on the first write; a transaction may not fall on the
    # period's first instant. So entries are dated in the current year at noon.
    year = dt.date.today().year
    with get_session(engine) as session:
        entity = Entity(name="Benchmark school 基准测试")
        session.add(entity)
        session.commit()
        currency = Currency(name="Chinese Yuan", code="CNY", entity_id=entity.id)
        session.add(currency)
        session.commit()
        bank = Account(
            name="Bank 银行存款",
            account_type=Account.AccountType.BANK,
            currency_id=currency.id,
            entity_id=entity.id,
        )
        revenue = Account(
            name="Revenue: fees 课后服务收入",
            account_type=Account.AccountType.OPERATING_REVENUE,
            currency_id=currency.id,
            entity_id=entity.id,
        )
        session.add_all([bank, revenue])
        session.commit()
        entity_id, bank_id, revenue_id = entity.id, bank.id, revenue.id

        def post(spec: tuple[dt.date, str, str, int]) -> None:
            day, memo, ref, amount = spec
            entry = JournalEntry(
                narration=memo,
                reference=ref,
                transaction_date=dt.datetime.combine(day.replace(year=year), dt.time(12)),
                account_id=revenue_id,  # the main account, credited
                entity_id=entity_id,
            )
            session.add(entry)
            session.flush()
            line = LineItem(
                narration=memo, account_id=bank_id, amount=_yuan(amount), entity_id=entity_id
            )
            session.add(line)
            session.flush()
            entry.line_items.add(line)
            session.add(entry)
            entry.post(session)  # commits

        for spec in specs[:warmup]:
            post(spec)
        timed = specs[warmup:]
        before = dict(counts)
        cpu = time.process_time()
        start = time.perf_counter()
        for spec in timed:
            post(spec)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        done = {k: (counts[k] - before[k]) / len(timed) for k in counts}

        ledgers = session.scalar(select(func.count()).select_from(Ledger))
        debits = session.scalar(
            select(func.sum(Ledger.amount))
            .where(Ledger.post_account_id == bank_id)
            .where(Ledger.entry_type == Balance.BalanceType.DEBIT)
        )
        expected = (2 * len(specs), _yuan(sum(s[3] for s in specs)))
        if (ledgers, Decimal(debits)) != expected:
            raise RuntimeError(f"ledger holds {(ledgers, debits)}, expected {expected}")
    engine.dispose()
    return {
        "seconds": seconds,
        "entries": len(timed),
        "version": f"python-accounting {version('python-accounting')}, "
        f"SQLAlchemy {version('sqlalchemy')}",
        "cpu_ms_per_entry": round(1000 * cpu / len(timed), 2),
        "statements_per_entry": round(done["statements"], 1),
        "commits_per_entry": round(done["commits"], 2),
    }


def drive_hordak(db_url: str, specs_path: str, warmup: int) -> dict[str, Any]:
    from importlib.metadata import version
    from urllib.parse import unquote, urlsplit

    import django
    from django.conf import settings

    url = urlsplit(db_url)
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        DEFAULT_CURRENCY="CNY",
        CURRENCIES=["CNY"],
        HORDAK_INTERNAL_CURRENCY="CNY",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "mptt",
            "djmoney",
            "hordak",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": url.path.lstrip("/"),
                "USER": unquote(url.username or ""),
                "PASSWORD": unquote(url.password or ""),
                "HOST": url.hostname or "",
                "PORT": str(url.port or 5432),
                "OPTIONS": {"options": "-c synchronous_commit=on"},
            }
        },
    )
    django.setup()
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from djmoney.money import Money
    from hordak.models import Account, AccountType

    specs = _load_specs(specs_path)
    call_command("migrate", verbosity=0, interactive=False)
    bank = Account.objects.create(
        name="Bank 银行存款", code="1002", type=AccountType.asset, currencies=["CNY"]
    )
    revenue = Account.objects.create(
        name="Revenue: fees 课后服务收入", code="4001", type=AccountType.income, currencies=["CNY"]
    )
    try:  # as post.py does: flush the set-up's WAL now (needs superuser; optional)
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")
    except DatabaseError:
        pass

    def post(spec: tuple[dt.date, str, str, int]) -> None:
        day, memo, _ref, amount = spec
        # transfer_to credits ``revenue`` and debits ``bank`` in one atomic block.
        revenue.transfer_to(bank, Money(_yuan(amount), "CNY"), date=day, description=memo)

    for spec in specs[:warmup]:
        post(spec)
    timed = specs[warmup:]
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        cpu = time.process_time()
        start = time.perf_counter()
        for spec in timed:
            post(spec)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu

    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM hordak_transaction), (SELECT count(*) FROM hordak_leg),"
            " (SELECT sum(debit) FROM hordak_leg WHERE account_id = %s)",
            [bank.id],
        )
        got = tuple(cur.fetchone())
        cur.execute("SELECT current_setting('synchronous_commit')")
        sync = cur.fetchone()[0]
    expected = (len(specs), 2 * len(specs), _yuan(sum(s[3] for s in specs)))
    if got != expected:
        raise RuntimeError(f"database holds {got}, expected {expected}")
    connection.close()
    return {
        "seconds": seconds,
        "entries": len(timed),
        "version": f"django-hordak {version('django-hordak')}, Django {django.get_version()}, "
        f"django-money {version('django-money')}, psycopg {version('psycopg')}; "
        f"synchronous_commit={sync}",
        # Django's BEGIN and COMMIT are not statements it executes: add 2 for round trips.
        "statements_per_entry": round(statements / len(timed), 1),
        "cpu_ms_per_entry": round(1000 * cpu / len(timed), 2),
    }


DRIVERS = {"python-accounting": drive_python_accounting, "hordak": drive_hordak}


def run_driver(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="peers.py --driver")
    p.add_argument("--driver", choices=sorted(DRIVERS), required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--specs", required=True)
    p.add_argument("--warmup", type=int, required=True)
    args = p.parse_args(argv)
    print(json.dumps(DRIVERS[args.driver](args.db, args.specs, args.warmup)))
    return 0


# --------------------------------------------------------------------------- the peers' venv


class PeerUnavailable(Exception):
    """A peer that could not be installed or run; the message says why."""


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )


def _pip_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
    keep = [
        ln
        for ln in lines
        if ln.startswith(("ERROR", "error:", "×", "Exception:", "OSError"))
        or "exists mysqlclient" in ln
        or "not found" in ln
    ]
    return " | ".join(dict.fromkeys((keep or lines)[-6:]))


def ensure_venv(folder: Path, fresh: bool) -> tuple[Path, dict[str, str], list[str]]:
    """The peers' venv with both peers installed. Returns its python; per peer, why it
    could not be installed (empty when it was); and notes on how they were installed.
    A venv is reused only if everything in it was installed."""
    stamp_data = {
        "python": sys.version.split()[0],
        "hordak": HORDAK_REQUIREMENTS,
        "python-accounting": [PA_REQUIREMENT, *PA_RUNTIME_DEPS],
    }
    stamp_file = folder / "kehou-peers.json"
    python = folder / "bin" / "python"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if stamp_file.exists() and python.exists():
        stamp = json.loads(stamp_file.read_text())
        if {k: stamp.get(k) for k in stamp_data} == stamp_data:
            log(f"peers' venv: reusing {folder}")
            return python, {}, list(stamp["notes"])
        shutil.rmtree(folder)
    log(f"peers' venv: creating {folder} (pip install from the package index; ~1 min)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    errors: dict[str, str] = {"hordak": "", "python-accounting": ""}
    notes: list[str] = []

    r = _pip(python, *HORDAK_REQUIREMENTS)
    if r.returncode != 0:
        errors["hordak"] = f"pip install {' '.join(HORDAK_REQUIREMENTS)} failed: {_pip_error(r)}"

    r = _pip(python, PA_REQUIREMENT)
    if r.returncode != 0:
        why = _pip_error(r)
        log(f"peers' venv: pip install {PA_REQUIREMENT} failed ({why}); installing it --no-deps")
        because = (
            "python-accounting requires mysqlclient and psycopg2 unconditionally, though they "
            "are only its MySQL and PostgreSQL drivers; "
            if "mysqlclient" in why
            else ""
        )
        notes.append(
            f"`pip install {PA_REQUIREMENT}` failed: {why}. {because}"
            "installed with --no-deps plus " + ", ".join(PA_RUNTIME_DEPS)
        )
        r = _pip(python, *PA_RUNTIME_DEPS)
        if r.returncode == 0:
            r = _pip(python, "--no-deps", PA_REQUIREMENT)
        if r.returncode != 0:
            errors["python-accounting"] = (
                f"pip install {PA_REQUIREMENT} failed, also with --no-deps: {_pip_error(r)}"
            )
    if not any(errors.values()):
        stamp_file.write_text(json.dumps({**stamp_data, "notes": notes}, indent=1))
    return python, errors, notes


def call_driver(
    python: Path, driver: str, db: str, specs_file: Path, warmup: int
) -> dict[str, Any]:
    # -I: not even this file's folder goes on sys.path, where a script named like a
    # standard module (an http.py, say) would shadow it.
    cmd = [str(python), "-I", str(Path(__file__).resolve()), "--driver", driver, "--db", db]
    cmd += ["--specs", str(specs_file), "--warmup", str(warmup)]
    # The driver must see the peers' venv only: no project paths, no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if r.returncode != 0:
        tail = [ln for ln in r.stderr.strip().splitlines() if ln.strip()][-3:]
        raise PeerUnavailable(
            f"the {driver} driver failed (exit {r.returncode}): " + " | ".join(tail)
        )
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- measuring


def load_post() -> Any:
    """bench/post.py, the Kehou side with its databases and checks, as module ``post``.

    It is loaded by path with bench/ taken off ``sys.path``: a script there named
    like a standard module (an http.py, say) would otherwise shadow it for every
    import the engine makes."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(HERE.parent))
    spec = importlib.util.spec_from_file_location("post", HERE / "post.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["post"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--driver" in argv:
        return run_driver(argv)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--postgres",
        default=os.environ.get("KEHOU_BENCH_PG"),
        metavar="URL",
        help="PostgreSQL server to create throwaway databases on (default: $KEHOU_BENCH_PG)",
    )
    p.add_argument("--single", type=int, metavar="N", help="timed entries per path (2000)")
    p.add_argument("--warmup", type=int, metavar="N", help="untimed entries first (100)")
    p.add_argument("--rounds", type=int, default=1, metavar="R", help="best of R rounds (1)")
    p.add_argument("--quick", action="store_true", help="smoke run: 200 entries, 20 warm-up")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    p.add_argument(
        "--venv",
        type=Path,
        default=cache / "kehou-bench" / "peers-venv",
        metavar="DIR",
        help="the peers' throwaway virtualenv (default: %(default)s)",
    )
    p.add_argument("--fresh-venv", action="store_true", help="delete and rebuild the venv first")
    args = p.parse_args(argv)
    if args.single is None:
        args.single = 200 if args.quick else 2000
    if args.warmup is None:
        args.warmup = 20 if args.quick else 100
    if args.single < 1 or args.warmup < 0 or args.rounds < 1:
        p.error("--single and --rounds must be at least 1, --warmup at least 0")

    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    post = load_post()

    specs = post.make_specs(args.warmup + args.single)
    warm, timed = specs[: args.warmup], specs[args.warmup :]
    print(
        f"Kehou Ledger peer comparison: {args.single} single entries (one commit each, two "
        f"postings) after {args.warmup} warm-up entries, best of {args.rounds} round(s); "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {post.load_average()} at the start"
    )
    code = post.code_under_test()
    print(f"Code under test: {code}")
    result: dict[str, Any] = {
        "single": args.single,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "code": code,
        "load_start": round(os.getloadavg()[0], 2),
    }

    python, install_errors, notes = ensure_venv(args.venv, args.fresh_venv)
    for note in notes:
        print(f"Note: {note}")
    result["venv"] = str(args.venv)

    kehou_cpu: dict[str, float] = {}

    def kehou(server: Any) -> float:
        with post.fresh(server) as (_url, engine, book):
            post.service_single(engine, book, warm)
            cpu = time.process_time()
            seconds = post.service_single(engine, book, timed)
            cpu = time.process_time() - cpu
            post.check(engine, book, specs)
        ms = 1000 * cpu / len(timed)
        kehou_cpu[server.name] = min(kehou_cpu.get(server.name, ms), ms)
        log(f"  {server.name:6} kehou  client CPU {ms:.2f} ms per entry")
        return len(timed) / seconds

    def peer(server: Any, driver: str) -> tuple[float, str, dict[str, Any]]:
        url = server.create()
        try:
            server.before_measure()
            db = url if server.name == "sqlite" else post.pg_conninfo(url)
            out = call_driver(python, driver, db, specs_file, args.warmup)
        finally:
            server.drop(url)
        extra = {k: v for k, v in out.items() if k.endswith("_per_entry")}
        return out["entries"] / out["seconds"], out["version"], extra

    pairs: list[tuple[str, str, str]] = [("python_accounting", "python-accounting", "sqlite")]
    if args.postgres:
        pairs.append(("hordak", "hordak", "pg"))
    else:
        print("No PostgreSQL server named (--postgres or KEHOU_BENCH_PG): django-hordak skipped.")
        result["ratio_hordak_pg"] = None
        result["hordak_error"] = "not measured: no PostgreSQL server named"

    with tempfile.TemporaryDirectory(prefix="kehou-peers-") as folder:
        specs_file = Path(folder) / "specs.json"
        specs_file.write_text(
            json.dumps(
                [[s.effective_date.isoformat(), s.memo, s.source_ref, s.amount] for s in specs]
            ),
            encoding="utf-8",
        )
        servers: dict[str, Any] = {"sqlite": post.SqliteFiles(Path(folder))}
        if args.postgres:
            servers["pg"] = post.PostgresServer(args.postgres)
        try:
            for key, driver, db in pairs:
                server = servers[db]
                error = install_errors.get(driver, "")
                best = {"kehou": 0.0, "peer": 0.0}
                version = ""
                extra: dict[str, Any] = {}
                for r in range(args.rounds):
                    order = ("peer", "kehou") if r % 2 == 0 else ("kehou", "peer")
                    for who in order:
                        if who == "kehou":
                            rate = kehou(server)
                        elif error:
                            continue
                        else:
                            try:
                                rate, version, counts = peer(server, driver)
                            except PeerUnavailable as e:
                                error = str(e)
                                continue
                            if rate > best["peer"]:
                                extra = counts  # the counters of the best round
                        log(f"  {db:6} {who:6} {key:18} {len(timed)} entries: {rate:8.1f}/s")
                        best[who] = max(best[who], rate)
                print(f"\n{server.version()}")
                print(
                    f"  kehou             {best['kehou']:10,.1f} entries/s  "
                    f"(client CPU {kehou_cpu[db]:.2f} ms per entry)"
                )
                result[f"kehou_single_{db}"] = round(best["kehou"], 1)
                result[f"kehou_cpu_ms_per_entry_{db}"] = round(kehou_cpu[db], 2)
                ratio_key = f"ratio_{key}_{db}"
                goal = GOALS[f"{key}_{db}"]
                if error:
                    print(f"  {driver:17} not measured: {error}")
                    result[f"{key}_single_{db}"] = None
                    result[ratio_key] = None
                    result[f"{key}_error"] = error
                    continue
                ratio = best["kehou"] / best["peer"]
                verdict = "met" if ratio >= goal else "MISSED"
                print(f"  {driver:17} {best['peer']:10,.1f} entries/s  ({version})")
                if extra:
                    per = ", ".join(
                        f"{k.replace('_per_entry', '').replace('_', ' ')} {v:g}"
                        for k, v in extra.items()
                    )
                    print(f"  {'':17} per timed entry: {per}")
                    result.update({f"{key}_{k}": v for k, v in extra.items()})
                print(f"  kehou ÷ {driver:9} {ratio:10.2f}   goal ≥ {goal:g}  {verdict}")
                result[f"{key}_single_{db}"] = round(best["peer"], 1)
                result[ratio_key] = round(ratio, 2)
                result[f"{key}_version"] = version
        finally:
            if "pg" in servers:
                servers["pg"].drop_all()

    print(f"\nload average {post.load_average()} at the end")
    result["load_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
