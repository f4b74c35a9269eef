"""Sign-in, sign-up, verification, password reset and first-run pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xerotier.accounts import auth, sessions
from xerotier.accounts.models import User
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import ValidationError
from xerotier.web import cookies
from xerotier.web.auth_state import auth_of
from xerotier.web.deps import Db, client_ip, current_user, runtime
from xerotier.web.redirects import safe_next

router = APIRouter(prefix="/auth", include_in_schema=False)
FormStr = Annotated[str, Form(max_length=4096)]

CHECK_EMAIL = (
    "If that address can be used, we have sent it an email. Follow the link in it to continue. "
    "Nothing arrived? Check the spelling and your spam folder."
)


def _page(request: Request, name: str, *, status: int = 200, **context: object) -> Response:
    return runtime(request).templates.render(request, name, status=status, **context)


def _message(
    request: Request,
    title: str,
    message: str,
    link: str | None = None,
    link_text: str = "",
    status: int = 200,
) -> Response:
    return _page(
        request, "message.html", status=status, title=title, message=message, link=link, link_text=link_text
    )


async def start_session(request: Request, session: AsyncSession, user: User, target: str) -> Response:
    """A brand-new session id at every sign-in (no fixation); any previous session is ended."""
    state = auth_of(request)
    now = runtime(request).clock()
    if state.session is not None:
        await sessions.revoke(session, session_id=state.session.id, user_id=state.session.user_id, now=now)
    token, _row = await sessions.create(
        session, user=user, ip=client_ip(request), user_agent=request.headers.get("user-agent"), now=now
    )
    response = RedirectResponse(target, status_code=303)
    response.headers.append("set-cookie", cookies.header(cookies.SESSION, token).decode())
    response.headers.append("set-cookie", cookies.clear(cookies.PRESESSION).decode())
    return response


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if auth_of(request).signed_in:
        return RedirectResponse(safe_next(next), status_code=303)
    return _page(request, "auth/login.html", next=safe_next(next), email="")


@router.post("/login")
async def login(
    request: Request,
    session: Db,
    email: FormStr,
    password: FormStr,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    rt = runtime(request)
    try:
        user = await auth.authenticate(
            session, rt.accounts, email=email, password=password, ip=client_ip(request), now=rt.clock()
        )
    except auth.InvalidCredentials as exc:
        return _page(
            request, "auth/login.html", status=401, error=exc.message, next=safe_next(next), email=email
        )
    return await start_session(request, session, user, safe_next(next))


@router.post("/logout")
async def logout(request: Request, session: Db) -> Response:
    state = auth_of(request)
    if state.session is not None and state.user is not None:
        now = runtime(request).clock()
        await sessions.revoke(session, session_id=state.session.id, user_id=state.user.id, now=now)
        audit.record(
            session,
            action=AuditAction.SIGN_OUT,
            actor=audit.Actor(state.user.id, state.user.email, client_ip(request)),
            now=now,
            target=state.user.email,
        )
    response = RedirectResponse("/auth/login", status_code=303)
    response.headers.append("set-cookie", cookies.clear(cookies.SESSION).decode())
    return response


@router.get("/register")
async def register_page(request: Request) -> Response:
    return _page(request, "auth/register.html", email="")


@router.post("/register")
async def register(request: Request, session: Db, email: FormStr, password: FormStr) -> Response:
    rt = runtime(request)
    try:
        await auth.register(
            session, rt.accounts, email=email, password=password, ip=client_ip(request), now=rt.clock()
        )
    except ValidationError as exc:
        return _page(request, "auth/register.html", status=400, error=exc.message, email=email)
    return _message(request, "Check your email", CHECK_EMAIL)


@router.get("/verify")
async def verify_page(request: Request, token: str = "") -> Response:
    # GET only shows a button: mail scanners that prefetch links must not consume the token.
    return _page(request, "auth/verify.html", token=token[:128])


@router.post("/verify")
async def verify(request: Request, session: Db, token: FormStr) -> Response:
    try:
        await auth.verify_email(session, token=token, now=runtime(request).clock())
    except auth.InvalidToken as exc:
        return _message(request, "Link not valid", exc.message, status=400)
    target = "/projects" if auth_of(request).signed_in else "/auth/login"
    return _message(request, "Email verified", "Your email address is verified.", target, "Continue")


@router.post("/resend-verification")
async def resend_verification(
    request: Request, session: Db, user: Annotated[User, Depends(current_user)]
) -> Response:
    rt = runtime(request)
    await auth.resend_verification(session, rt.accounts, user=user, now=rt.clock())
    return _message(request, "Check your email", "We sent a new verification link.", "/projects", "Back")


@router.get("/forgot-password")
async def forgot_page(request: Request) -> Response:
    return _page(request, "auth/forgot.html")


@router.post("/forgot-password")
async def forgot(request: Request, session: Db, email: FormStr) -> Response:
    rt = runtime(request)
    await auth.request_password_reset(
        session, rt.accounts, email=email, ip=client_ip(request), now=rt.clock()
    )
    return _message(request, "Check your email", CHECK_EMAIL)


@router.get("/reset-password")
async def reset_page(request: Request, session: Db, token: str = "") -> Response:
    try:
        await auth.check_reset_token(session, token=token, now=runtime(request).clock())
    except auth.InvalidToken as exc:
        return _message(
            request, "Link not valid", exc.message, "/auth/forgot-password", "Ask for a new link", 400
        )
    return _page(request, "auth/reset.html", token=token)


@router.post("/reset-password")
async def reset(request: Request, session: Db, token: FormStr, password: FormStr) -> Response:
    rt = runtime(request)
    try:
        await auth.reset_password(
            session, rt.accounts, token=token, password=password, ip=client_ip(request), now=rt.clock()
        )
    except auth.InvalidToken as exc:
        return _message(
            request, "Link not valid", exc.message, "/auth/forgot-password", "Ask for a new link", 400
        )
    except ValidationError as exc:
        return _page(request, "auth/reset.html", status=400, error=exc.message, token=token)
    response = _message(
        request,
        "Password changed",
        "Your password was changed and every session was signed out. Sign in with the new password.",
        "/auth/login",
        "Sign in",
    )
    response.headers.append("set-cookie", cookies.clear(cookies.SESSION).decode())
    return response


@router.get("/setup")
async def setup_page(request: Request, token: str = "") -> Response:
    return _page(request, "auth/setup.html", token=token[:128], email="")


@router.post("/setup")
async def setup(request: Request, session: Db, token: FormStr, email: FormStr, password: FormStr) -> Response:
    rt = runtime(request)
    try:
        user = await auth.create_first_admin(
            session, token=token, email=email, password=password, ip=client_ip(request), now=rt.clock()
        )
    except auth.InvalidToken as exc:
        return _message(request, "Link not valid", exc.message, status=400)
    except ValidationError as exc:
        return _page(request, "auth/setup.html", status=400, error=exc.message, token=token, email=email)
    return await start_session(request, session, user, "/projects")
