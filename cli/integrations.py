"""`callscope integrations`: the contact-center platforms that stream live calls to a tenant (Genesys AudioHook,
Twilio Media Streams). Secrets are read from the environment or a prompt when not given, and never printed.

Exit codes: 0 done; 2 bad input (a malformed key or secret, a key registered before, no such integration).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

integrations_app = typer.Typer(help="Contact-center platforms that stream live calls.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


class Kind(StrEnum):
    audiohook = "audiohook"
    twilio = "twilio"


def _sessionmaker():  # type: ignore[no-untyped-def]
    from cli.main import _migrated_sessionmaker

    return _migrated_sessionmaker()


@integrations_app.command("add")
def add(
    kind: Annotated[Kind, typer.Argument(help="audiohook (Genesys Cloud) or twilio (Media Streams)")],
    tenant: Annotated[str, typer.Option(help="the tenant whose calls the platform streams")],
    api_key: Annotated[str | None, typer.Option(help="AudioHook: the API key set in Genesys")] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            envvar="CALLSCOPE_AUDIOHOOK_CLIENT_SECRET", help="AudioHook: the client secret (base64) set in Genesys"
        ),
    ] = None,
    auth_token: Annotated[
        str | None, typer.Option(envvar="CALLSCOPE_TWILIO_AUTH_TOKEN", help="Twilio: the account's auth token")
    ] = None,
) -> None:
    """Register a platform; prints its id (and, for Twilio, the stream URL's query to use in TwiML) as JSON."""
    from callscope.errors import CallscopeError
    from callscope.settings import get_settings
    from callscope.tenants import integrations

    secret = client_secret if kind is Kind.audiohook else auth_token
    if not secret:
        secret = typer.prompt("client secret" if kind is Kind.audiohook else "auth token", hide_input=True)
    with _sessionmaker()() as session:
        try:
            row, key = integrations.add(session, tenant=tenant, kind=kind.value, secret=secret, api_key=api_key,
                                        service_secret=get_settings().resolved_customer_hash_key)  # fmt: skip
        except CallscopeError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    shown = {"id": row.id, "kind": row.kind, "tenant": row.tenant}
    if kind is Kind.twilio:
        shown["stream_query"] = f"integration={key}"
    typer.echo(json.dumps(shown))


@integrations_app.command("list")
def list_command(tenant: Annotated[str, typer.Option(help="the tenant whose integrations to list")]) -> None:
    """The tenant's integrations as JSON lines (no secrets)."""
    from callscope.tenants import integrations

    with _sessionmaker()() as session:
        for item in integrations.listing(session, tenant=tenant):
            typer.echo(json.dumps(item, default=str))


@integrations_app.command("remove")
def remove(
    kind: Annotated[Kind, typer.Argument(help="audiohook or twilio")],
    integration_id: Annotated[int, typer.Argument(help="the id `list` shows")],
    tenant: Annotated[str, typer.Option(help="the tenant it belongs to")],
) -> None:
    """Stop accepting the platform's streams."""
    from callscope.errors import CallscopeError
    from callscope.tenants import integrations

    with _sessionmaker()() as session:
        try:
            integrations.remove(session, tenant=tenant, kind=kind.value, integration_id=integration_id)
        except CallscopeError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
