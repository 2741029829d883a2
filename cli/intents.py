"""`callscope intents` (a tenant's own intents, fit from a CSV of examples) and `callscope themes` (requests nobody
named, grouped).

Exit codes: 0 done; 2 bad usage or input (unreadable CSV, missing column, an intent with under five examples).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

intents_app = typer.Typer(help="Custom intents: fit a model from example utterances.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


class Base(StrEnum):
    none = "none"
    banking77 = "banking77"


@intents_app.command("fit")
def fit_command(
    examples: Annotated[Path, typer.Argument(help="CSV with the columns text,intent (at least 5 rows per intent)")],
    out: Annotated[Path, typer.Option(help="the model folder to write")],
    base: Annotated[Base, typer.Option(help="none: the tenant's intents; banking77: and Banking77's")] = Base.none,
) -> None:
    """Fit a model on the examples, report its cross-validated accuracy (JSON on stdout) and write it to --out."""
    from callscope.tenants.training import custom_intents

    if not examples.is_file():
        err.print(f"[red]error:[/red] no such file: {examples}")
        raise typer.Exit(2)
    try:
        rows = custom_intents.read_examples(examples)
        with err.status("fitting") as status:
            model, report = custom_intents.fit(rows, base=base.value, progress=lambda step: status.update(step))
    except (ValueError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    model.save(out)
    typer.echo(json.dumps({"model": str(out), "intents": len(report.labels), "examples": report.examples,
                           "cv_accuracy": report.cv_accuracy, "base": report.base}))  # fmt: skip
    err.print(f"wrote {out}: classify with `callscope classify --model {out}`")


def themes_command(
    file: Annotated[Path, typer.Argument(help="one customer request a line")],
    min_size: Annotated[int, typer.Option(help="the smallest theme; smaller groups stay unassigned")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON: themes (name, size, members, examples)")] = False,
) -> None:
    """Group similar requests into themes, as many as the texts hold, each named by its words."""
    from callscope.tenants.training import find_themes

    if not file.is_file():
        err.print(f"[red]error:[/red] no such file: {file}")
        raise typer.Exit(2)
    if min_size < 2:
        err.print("[red]error:[/red] --min-size must be at least 2")
        raise typer.Exit(2)
    texts = file.read_text(encoding="utf-8", errors="replace").splitlines()
    with err.status(f"grouping {len(texts)} texts"):
        themes, unassigned = find_themes(texts, min_size=min_size)
    if as_json:
        typer.echo(json.dumps({"themes": [asdict(t) for t in themes], "unassigned": unassigned}))
        return
    for theme in themes:
        typer.echo(f"{theme.size:5d}  {theme.name}: " + " | ".join(theme.examples))
    typer.echo(f"{len(unassigned):5d}  unassigned")
