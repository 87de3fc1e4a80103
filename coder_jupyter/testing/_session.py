"""Browser sessions: the ``/login`` page, ``POST /api/v2/users/login`` and the home page."""

from __future__ import annotations

from urllib.parse import urlsplit

from ._http import INVALID, BaseHandler, locked
from ._pages import PAGE_HEADERS, home_page, login_page
from ._state import User

#: Lifetime of browser/password sessions (Coder's default session duration).
SESSION_TTL = 86400.0


def safe_redirect(target: str) -> str:
    """Only same-origin relative paths are followed after login; anything else goes to ``/``."""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


class _PageHandler(BaseHandler):
    def page(self, status: int, body: str) -> None:
        self.set_status(status)
        for name, value in PAGE_HEADERS.items():
            self.set_header(name, value)
        self.finish(body)

    def check_password(self, login: str, password: str) -> User | None:
        user = self.state.find_user(login) if login else None
        if user is None or user.password != password or user.status != "active":
            return None
        return user

    def start_session(self, user: User) -> str:
        token, _ = self.state.issue_api_key(user, lifetime=SESSION_TTL, login_type="password")
        self.set_cookie("coder_session_token", token, path="/", httponly=True, samesite="Lax")
        return token


class LoginPageHandler(_PageHandler):
    """``GET /login`` shows the form; ``POST /login`` checks it, sets the cookie and redirects."""

    route = "/login"

    def get(self) -> None:
        message = self.get_query_argument("message", "") or ""
        redirect = self.get_query_argument("redirect", "/") or "/"
        self.page(200, login_page(message=message, redirect=redirect))

    @locked
    def post(self) -> None:
        login = (self.get_body_argument("username", "") or self.get_body_argument("email", "") or "").strip()
        password = self.get_body_argument("password", "") or ""
        redirect = self.get_body_argument("redirect", "/") or "/"
        user = self.check_password(login, password)
        if user is None:
            body = login_page(
                message="", redirect=redirect, error="Incorrect username or password.", username=login
            )
            self.page(401, body)
            return
        self.start_session(user)
        self.redirect(safe_redirect(redirect), status=303)


class PasswordLoginHandler(_PageHandler):
    """``POST /api/v2/users/login {email, password}`` → 201 ``{session_token}``."""

    route = "/api/v2/users/login"
    rate_bucket = "api"

    @locked
    def post(self) -> None:
        body = self.read_json()
        if body is INVALID:
            return
        body = body if isinstance(body, dict) else {}
        problems = [
            {"field": name, "detail": 'Validation failed for tag "required" with value: ""'}
            for name in ("email", "password")
            if not body.get(name)
        ]
        if problems:
            self.validation_failed(problems)
            return
        user = self.check_password(str(body["email"]), str(body["password"]))
        if user is None:
            self.send_response(401, "Incorrect email or password.")
            return
        self.send_json(201, {"session_token": self.start_session(user)})


class HomeHandler(_PageHandler):
    route = "/"

    @locked
    def get(self) -> None:
        user = self._resolve(self.request_token())[0]
        self.page(200, home_page(username=user.username if user else None))
