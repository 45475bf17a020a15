"""``kehou documents render``: a period's fee notices rendered on every core and archived.

One transaction: the notices are archived and committed together, and only
then written to the output folder (side effects after the commit). Running
it again renders nothing that is archived already and writes the archived
bytes out again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select


@click.group("documents", help="Documents: fee notices, receipts, statements as PDF.")
def documents_group() -> None:
    pass


@documents_group.command(
    "render", help="Render a period's fee notices with every core; progress on stderr."
)
@click.option("--school", "school_code", required=True, help="School code.")
@click.option("--period", required=True, help="YYYY-MM, or term:<id> for a whole term.")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the PDFs to (created if missing). Required unless --queue.",
)
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Default: every core.")
@click.option(
    "--queue",
    "to_queue",
    is_flag=True,
    help="Render and archive on a worker (KEHOU_QUEUE_URL, `kehou worker`); prints the job "
    "id. Run again without --queue to write the archived PDFs out: nothing is re-rendered.",
)
@with_appcontext
def documents_render(
    school_code: str,
    period: str,
    out_dir: Path | None,
    lang: str,
    workers: int | None,
    to_queue: bool = False,
) -> None:
    from invoices.batch import invoices_for_period, issue_invoices
    from ledger.school.models import School

    from .audit import record
    from .cli import _cli_actor, unit_of_work

    if to_queue:
        from .queue_cli import enqueue_documents

        enqueue_documents(school_code, period, lang, workers)
        return
    if out_dir is None:
        raise click.UsageError("Missing option '--out'.")

    with unit_of_work() as db:
        school = db.scalar(select(School).where(School.code == school_code))
        if school is None:
            raise click.ClickException(f"not_found: no school {school_code}")
        invoices = invoices_for_period(db, school, period)
        total = len(invoices)
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if sys.stderr.isatty():
                width = 30
                filled = width * done // max(total, 1)
                click.echo(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                    err=True,
                    nl=done >= total,
                )
            else:
                click.echo(f"rendered {done}/{total}", err=True)

        result = issue_invoices(
            db,
            school,
            invoices,
            language=lang,
            actor=_cli_actor(),
            workers=workers,
            progress=progress,
        )
        if result.rendered:
            record(
                db,
                "documents.render",
                f"school:{school_code}/period:{period}",
                {"rendered": result.rendered, "language": lang},
                actor=_cli_actor(),
            )
        files = [
            (f"{d.number}.pdf" if lang == "zh-CN" else f"{d.number}.{lang}.pdf", d.pdf)
            for d in result.documents
        ]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pdf in files:
        (out_dir / name).write_bytes(pdf)
    click.echo(
        f"{len(files)} fee notice(s) for {school_code} {period} in {out_dir}: "
        f"{result.rendered} rendered, {result.already_issued} already issued"
    )
