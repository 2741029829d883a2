"""Supervisor reports over HTTP: the dashboard, contact drill-down, opportunities, JSON/CSV figures, categories, audio.

Thin routes: authenticate (a signed session cookie from the login form, or `Authorization: Bearer`), check the role
(supervisor or admin; the recording also ingest), call one
`callscope.reports` / `callscope.understanding.categories` function.
Contact views, recordings played and exports are written to `audit_events`.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.enqueue import send_task
from callscope.access import audit, keys
from callscope.access.keys import Principal
from callscope.errors import InvalidInput, NotFound
from callscope.reports import contacts, dashboard, export, filters, journeys, themes
from callscope.settings import get_settings
from callscope.storage import store
from callscope.storage.db import ApiKey
from callscope.storage.recordings import recordings
from callscope.storage.search import search_terms
from callscope.tenants import categories, scorecards
from callscope.tenants import intents as tenant_intents

log = logging.getLogger("callscope.api.reports")
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
COOKIE = "callscope_session"
SESSION_MAX_AGE_S = 12 * 3600
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

MAX_OFFSET = 1_000_000  # pages deeper than this are a search's job, not paging's (and no 64-bit overflow)
CategoryId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]  # a database integer: larger ids are 422, not 500

# Report routes answer JSON, or CSV with ?format=csv; the pages answer HTML.
router = APIRouter(responses={200: {"content": {"text/csv": {}, "text/html": {}}}})
templates = Jinja2Templates(directory=HERE / "templates")




@dataclass(frozen=True)
class Viewer:
    """Who is asking, and the key prefix that audit events record."""

    principal: Principal
    key_id: int
    key_prefix: str

    @property
    def tenant(self) -> str:
        return self.principal.tenant


def _viewer(request: Request, session: Session) -> Viewer | None:
    """The caller from a Bearer header, else from the session cookie; a revoked key ends its sessions."""
    header = request.headers.get("authorization", "")
    row: ApiKey | None = None
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        row = keys.key_row(session, key=key)
    elif cookie := request.cookies.get(COOKIE):
        row = keys.web_session_key(session, token=cookie)
    if row is None or row.revoked:
        return None
    principal = Principal(tenant=row.tenant, role=row.role, key_prefix=row.prefix)
    return Viewer(principal=principal, key_id=row.id, key_prefix=row.prefix)


def _api_viewer(request: Request, session: SessionDep, *permissions: str) -> Viewer:
    viewer = _viewer(request, session)
    if viewer is None:
        raise HTTPException(
            401,
            "missing or invalid API key: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not any(viewer.principal.may(p) for p in permissions):
        raise HTTPException(403, f"role {viewer.principal.role!r} may not view reports")
    return viewer


def report_viewer(request: Request, session: SessionDep) -> Viewer:
    return _api_viewer(request, session, "reports")


def audio_viewer(request: Request, session: SessionDep) -> Viewer:
    """Recordings are a supervisor's (or an admin's) to hear: an ingest key posts them, it does not fetch them."""
    return _api_viewer(request, session, "reports")


def page_viewer(request: Request, session: SessionDep) -> Viewer:
    """HTML pages: no session sends the browser to the login form (303), a role that may not gets 403."""
    viewer = _viewer(request, session)
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "log in first", headers={"Location": "/reports/login?" + urlencode({"next": target})})
    if not viewer.principal.may("reports"):
        raise HTTPException(403, f"role {viewer.principal.role!r} may not view reports")
    return viewer


Reporter = Annotated[Viewer, Depends(report_viewer)]
PageViewer = Annotated[Viewer, Depends(page_viewer)]
Listener = Annotated[Viewer, Depends(audio_viewer)]


def _audit(session: Session, viewer: Viewer, action: str, target: str | None) -> None:
    """Who looked at or exported what (never the content)."""
    audit.record(session, viewer.principal, action=action, target=(target or "")[:200])


def _exported(report: str, f: filters.Filters) -> str:
    """What an export selected, as the audit keeps it: the filters in words (PII in them is redacted by `audit`),
    and of a text search only how many terms it had: free text may name anyone, in words no redaction knows."""
    described = {k: (f"[{search_terms(v)} terms]" if k == "q" else v) for k, v in f.as_query().items()}
    return " ".join([report, *(f"{k}={v}" for k, v in described.items())])


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date like 2026-11-20") from exc


def report_filters(
    date_from: Annotated[str | None, Query(description="first day, YYYY-MM-DD (UTC)")] = None,
    date_to: Annotated[str | None, Query(description="last day, inclusive")] = None,
    channel: str | None = None,
    intent: str | None = None,
    queue: str | None = None,
    agent: str | None = None,
    category: str | None = None,
    q: Annotated[str | None, Query(description="full-text search over the redacted turns (web-search syntax)")] = None,
) -> filters.Filters:
    """Query parameters as filters; empty form fields mean no filter."""
    return filters.Filters(
        date_from=_date(date_from, "date_from"),
        date_to=_date(date_to, "date_to"),
        channel=channel or None,
        intent=intent or None,
        queue=queue or None,
        agent=agent or None,
        category=category or None,
        q=(q or "").strip() or None,
    )


FiltersDep = Annotated[filters.Filters, Depends(report_filters)]
Format = Annotated[str, Query(pattern="^(json|csv)$", description="csv: the report as one table")]


def _secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    return _secure_headers(response)  # type: ignore[return-value]


def _csv(rows: Iterator[str], filename: str) -> StreamingResponse:
    """The first rows are made before the answer starts: a query that fails answers its own status, not a CSV cut
    off after the header."""
    rows = iter(rows)
    first = list(itertools.islice(rows, 1))
    return StreamingResponse(
        itertools.chain(first, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


# --- login ---------------------------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path of this app's reports (never another site) may follow the login."""
    if target and target.startswith("/reports") and not target.startswith("//") and "\\" not in target:
        return target
    return "/reports"


@router.get("/reports/login", response_class=HTMLResponse, tags=["reports"], include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    return _page(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/reports/login", tags=["reports"], include_in_schema=False)
def login(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Check the key once; the browser then keeps a random, HttpOnly, SameSite=Strict session id (the session lives
    on the server: logout and the key's revocation end it). Every login is audited; failures count against the
    address's failed authentications (`api.guard`)."""
    row = keys.key_row(session, key=key)
    row = None if row is None or row.revoked else row
    if row is None:
        log.warning("report login refused: unknown or revoked key from %s", request.client.host if request.client
                    else "unknown")  # fmt: skip
        return _page(request, "login.html", {"next": _safe_next(next), "error": "Unknown or revoked key."}, 401)
    who = Principal(tenant=row.tenant, role=row.role, key_prefix=row.prefix)
    if not who.may("reports"):
        audit.record(session, who, action="login refused", target=f"role {row.role}")
        error = f"A key with the role {row.role!r} may not view reports: use a supervisor or admin key."
        return _page(request, "login.html", {"next": _safe_next(next), "error": error}, 403)
    audit.record(session, who, action="login", target="reports")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        keys.open_web_session(session, key_id=row.id, max_age_s=SESSION_MAX_AGE_S),
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.api_route("/reports/logout", methods=["GET", "POST"], tags=["reports"], include_in_schema=False)
def logout(request: Request, session: SessionDep) -> Response:
    if cookie := request.cookies.get(COOKIE):
        keys.close_web_session(session, token=cookie)
    response = RedirectResponse("/reports/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- pages ---------------------------------------------------------------------------------------------------------


def _filter_context(viewer: Viewer, session: Session, f: filters.Filters) -> dict[str, Any]:
    """What every filtered report page shows: who is looking, the filters, and their choices."""
    return {"viewer": viewer, "filters": f, "query": urlencode(f.as_query()),
            "options": dashboard.filter_options(session, viewer.tenant)}  # fmt: skip


@router.get("/reports", response_class=HTMLResponse, tags=["reports"], include_in_schema=False)
def dashboard_page(request: Request, viewer: PageViewer, session: SessionDep, f: FiltersDep) -> HTMLResponse:
    listed = contacts.contacts(session, viewer.tenant, f, limit=25)
    context = {**_filter_context(viewer, session, f), "contacts": listed}
    return _page(request, "dashboard.html", context)


@router.get("/reports/opportunities", response_class=HTMLResponse, tags=["reports"], include_in_schema=False)
def opportunities_page(request: Request, viewer: PageViewer, session: SessionDep, f: FiltersDep) -> HTMLResponse:
    context = {**_filter_context(viewer, session, f), "data": dashboard.opportunities(session, viewer.tenant, f)}
    return _page(request, "opportunities.html", context)


@router.get(
    "/reports/contacts/{interaction_id}", response_class=HTMLResponse, tags=["reports"], include_in_schema=False
)
def contact_page(request: Request, interaction_id: str, viewer: PageViewer, session: SessionDep) -> HTMLResponse:
    try:
        contact = contacts.contact_detail(session, viewer.tenant, interaction_id)
    except NotFound:
        return _page(request, "not_found.html", {"viewer": viewer, "what": "contact"}, 404)
    _audit(session, viewer, "contact.view", interaction_id)
    return _page(request, "contact.html", {"viewer": viewer, "contact": contact})


CustomerHash = Annotated[str, PathParam(pattern="^[0-9a-f]{64}$", description="the contact's `customer_hash`")]


@router.get("/v1/customers/{customer_hash}/journey", tags=["reports"])
def customer_journey(customer_hash: CustomerHash, viewer: Reporter, session: SessionDep) -> dict[str, Any]:
    """Every contact of one customer over every channel, oldest first, with repeats linked to what they repeat."""
    data = journeys.journey(session, viewer.tenant, customer_hash)
    _audit(session, viewer, "customer.journey", customer_hash)
    return data


@router.get("/reports/customers/{customer_hash}", response_class=HTMLResponse, tags=["reports"],
            include_in_schema=False)  # fmt: skip
def journey_page(request: Request, customer_hash: str, viewer: PageViewer, session: SessionDep) -> HTMLResponse:
    try:
        data = journeys.journey(session, viewer.tenant, customer_hash)
    except NotFound:
        return _page(request, "not_found.html", {"viewer": viewer, "what": "customer"}, 404)
    _audit(session, viewer, "customer.journey", customer_hash)
    return _page(request, "journey.html", {"viewer": viewer, "journey": data})


@router.get("/reports/static/plotly.min.js", tags=["reports"], include_in_schema=False)
def plotly_js() -> FileResponse:
    """The charting library, from the installed plotly package: pages work offline, no CDN."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/reports/static/{name}", tags=["reports"], include_in_schema=False)
def static_file(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if not re.fullmatch(r"[\w.-]+\.(js|css)", name) or not path.is_file():
        raise HTTPException(404, "not found")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})


# --- JSON and CSV --------------------------------------------------------------------------------------------------


def _report_route(name: str) -> Any:
    def route(viewer: Reporter, session: SessionDep, f: FiltersDep, format: Format = "json") -> Any:  # noqa: A002
        data = dashboard.build(session, viewer.tenant, name, f)
        if format == "csv":
            _audit(session, viewer, "reports.export", _exported(name, f))
            columns, rows = export.flatten(data)
            return _csv(export.csv_text(rows, columns), f"{name}.csv")
        return data

    route.__doc__ = (dashboard.BUILDERS[name].__doc__ or "").strip()
    return route


for _name in dashboard.REPORTS:
    router.add_api_route(f"/v1/reports/{_name}", _report_route(_name), methods=["GET"], tags=["reports"])


@router.get("/v1/reports/search", tags=["reports"])
def search(
    viewer: Reporter,
    session: SessionDep,
    f: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    format: Format = "json",  # noqa: A002
) -> Any:
    """Full-text search over the redacted turns, combined with the filters; newest first, with the matching turn."""
    if not f.q:
        raise InvalidInput("search needs `q`")
    data = contacts.contacts(session, viewer.tenant, f, limit=limit, offset=offset)
    if format == "csv":
        _audit(session, viewer, "reports.export", _exported("search", f))
        return _csv(export.csv_text(data["items"], contacts.CONTACT_COLUMNS), "search.csv")
    _audit(session, viewer, "reports.search", _exported("search", f))
    return data


@router.get("/v1/reports/contacts", tags=["reports"])
def contact_list(
    viewer: Reporter,
    session: SessionDep,
    f: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """The contacts the filters select, newest first."""
    listed = contacts.contacts(session, viewer.tenant, f, limit=limit, offset=offset)
    _audit(session, viewer, "reports.list", _exported("contacts", f))
    return listed


@router.get("/v1/reports/contacts/{interaction_id}", tags=["reports"])
def contact_json(interaction_id: str, viewer: Reporter, session: SessionDep) -> dict[str, Any]:
    """A contact as the drill-down page shows it (turns, entities, placeholders, predicted and actual time)."""
    contact = contacts.contact_detail(session, viewer.tenant, interaction_id)
    _audit(session, viewer, "contact.view", interaction_id)
    return contact


@router.get("/v1/reports/export.csv", tags=["reports"])
def export_csv(viewer: Reporter, session: SessionDep, f: FiltersDep) -> StreamingResponse:
    """Every contact the filters select, one row each, streamed."""
    _audit(session, viewer, "reports.export", _exported("contacts", f))
    return _csv(
        export.csv_text(contacts.iter_contacts(session, viewer.tenant, f), contacts.CONTACT_COLUMNS), "contacts.csv"
    )


class QaAnswerIn(BaseModel):
    answer: str = Field(pattern="^(yes|no|n/a)$", description="the supervisor's answer: yes, no or n/a")


@router.put("/v1/interactions/{interaction_id}/qa/{question_id}", tags=["qa"])
def qa_override(
    interaction_id: str, question_id: str, body: QaAnswerIn, viewer: Reporter, session: SessionDep
) -> dict[str, Any]:
    """A supervisor's answer to one QA question of a contact (kept beside the automatic one, audited); the
    contact's score and the QA report follow it."""
    updated = scorecards.override_answer(session, tenant=viewer.tenant, interaction_id=interaction_id,
                                         question=question_id, answer=body.answer, by=viewer.key_prefix)  # fmt: skip
    _audit(session, viewer, "qa.override", f"{interaction_id} {question_id}={body.answer}")
    return updated


# --- recording -----------------------------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@router.get("/v1/interactions/{interaction_id}/audio", tags=["interactions"])
def audio(interaction_id: str, request: Request, viewer: Listener, session: SessionDep) -> Response:
    """The stored recording with its content type; honours `Range` so a player can seek."""
    blob = store.recording_of(session, tenant=viewer.tenant, interaction_id=interaction_id)
    if blob is None:  # another tenant's contact answers like a missing one
        raise NotFound(f"no recording stored for interaction {interaction_id}")
    size = len(blob.content) if blob.content is not None else blob.size or 0
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    media = blob.content_type or "application/octet-stream"

    def body(start: int, end: int, status: int) -> Response:
        """Bytes start..end: from the row (recordings stored before 0006) or streamed from the recording store."""
        if blob.content is not None:
            return Response(blob.content[start : end + 1], status_code=status, media_type=media, headers=headers)
        chunks = recordings().stream(blob.object_key or "", start, end)
        first = next(chunks, b"")  # the store's errors surface here, as a 503, not halfway through the answer
        sized = {**headers, "Content-Length": str(end - start + 1)}
        return StreamingResponse(itertools.chain([first], chunks), status_code=status, media_type=media,
                                 headers=sized)  # fmt: skip

    wanted = request.headers.get("range")
    if not wanted:
        _audit(session, viewer, "contact.audio", interaction_id)
        return body(0, size - 1, 200)
    match = _RANGE.match(wanted.strip())
    if not match or match.groups() == ("", ""):
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    _audit(session, viewer, "contact.audio.range", interaction_id)  # every fetch is audited, each seek too
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return body(start, end, 206)


# --- categories ----------------------------------------------------------------------------------------------------


@router.get("/v1/categories", tags=["categories"])
def list_categories(viewer: Reporter, session: SessionDep) -> list[dict[str, Any]]:
    return categories.list_categories(session, tenant=viewer.tenant)


@router.post("/v1/categories", status_code=201, tags=["categories"])
def create_category(body: categories.CategoryIn, viewer: Reporter, session: SessionDep) -> dict[str, Any]:
    """A rule that tags contacts as they are analyzed (see docs/reports.md for the rule format)."""
    created = categories.create_category(session, tenant=viewer.tenant, body=body)
    _audit(session, viewer, "create category", str(created["id"]))
    return created


@router.put("/v1/categories/{category_id}", tags=["categories"])
def update_category(
    category_id: CategoryId, body: categories.CategoryIn, viewer: Reporter, session: SessionDep
) -> dict[str, Any]:
    updated = categories.update_category(session, tenant=viewer.tenant, category_id=category_id, body=body)
    _audit(session, viewer, "update category", str(category_id))
    return updated


@router.delete("/v1/categories/{category_id}", status_code=204, tags=["categories"])
def delete_category(category_id: CategoryId, viewer: Reporter, session: SessionDep) -> Response:
    categories.delete_category(session, tenant=viewer.tenant, category_id=category_id)
    _audit(session, viewer, "delete category", str(category_id))
    return Response(status_code=204)


# --- themes --------------------------------------------------------------------------------------------------------


@router.get("/v1/themes", tags=["themes"])
def list_themes(viewer: Reporter, session: SessionDep) -> dict[str, Any]:
    """The latest themes among the tenant's contacts that no intent named (`other` or low confidence)."""
    return themes.latest(session, tenant=viewer.tenant)


@router.post("/v1/themes", status_code=202, tags=["themes"])
def recompute_themes(
    viewer: Reporter, days: Annotated[int | None, Query(ge=1, le=365, description="the period, in days")] = None
) -> dict[str, Any]:
    """Queue a new run now (workers also run it on a schedule); `GET /v1/themes` shows it once done."""
    period = days or get_settings().themes_days
    try:
        send_task("callscope.discover_themes", viewer.tenant, period)
    except Exception as exc:
        raise HTTPException(503, "the queue is unavailable", headers={"Retry-After": "5"}) from exc
    return {"queued": True, "days": period}


class ThemeIntentIn(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,59}$", description="the new intent's name")
    queue: str = Field(default="general", min_length=1, max_length=100)
    priority: int = Field(default=3, ge=1, le=5)
    escalate: bool = False


@router.post("/v1/themes/{index}/intent", status_code=201, tags=["themes"])
def theme_to_intent(
    body: ThemeIntentIn, viewer: Reporter, session: SessionDep, index: Annotated[int, PathParam(ge=0, le=1000)]
) -> dict[str, Any]:
    """Make a theme of the latest run one of the tenant's intents, its requests the examples (admins only); fit a
    model with `POST /v1/intent-models` to use it."""
    if not viewer.principal.may("admin"):
        raise HTTPException(403, f"role {viewer.principal.role!r} may not define intents")
    examples = themes.theme_requests(session, tenant=viewer.tenant, index=index)
    try:
        row = tenant_intents.put_intent(
            session,
            tenant=viewer.tenant,
            name=body.name,
            examples=examples,
            queue=body.queue,
            priority=body.priority,
            escalate=body.escalate,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    _audit(session, viewer, "theme.intent", body.name)
    return tenant_intents.describe_intent(row)


@router.get("/reports/themes", response_class=HTMLResponse, tags=["reports"], include_in_schema=False)
def themes_page(request: Request, viewer: PageViewer, session: SessionDep) -> HTMLResponse:
    run = themes.latest(session, tenant=viewer.tenant)
    return _page(request, "themes.html", {"viewer": viewer, "run": run, "admin": viewer.principal.may("admin")})
