"""HTML pages of the fake: login form, OAuth consent page, static error page, home page.

Everything interpolated is escaped with :func:`html.escape`. The pages are plain HTML
(no JavaScript), so a browser automation tool or plain httpx can drive them.
Stable element ids: ``#username``, ``#password``, ``#login`` on the login form;
``#allow`` (submit button) and ``#cancel`` (link) on the consent page.
"""

from __future__ import annotations

from html import escape

#: Headers every HTML page carries.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Type": "text/html; charset=utf-8",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#0f1115;color:#e6e6e6;display:flex;"
    "justify-content:center;padding-top:10vh}main{background:#1b1e24;padding:2rem;border-radius:8px;"
    "min-width:22rem;max-width:32rem}label{display:block;margin:.6rem 0 .2rem}input{width:100%;"
    "padding:.4rem}button{margin-top:1rem;padding:.5rem 1.2rem}a{color:#8ab4f8}.err{color:#f28b82}"
    ".msg{color:#fdd663}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} - Coder (fake)</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def login_page(*, message: str, redirect: str, error: str = "", username: str = "") -> str:
    parts = ["<h1>Sign in to Coder</h1>"]
    if message:
        parts.append(f"<p class='msg' id='message'>{escape(message)}</p>")
    if error:
        parts.append(f"<p class='err' id='error'>{escape(error)}</p>")
    parts.append(
        "<form method='post' action='/login'>"
        f"<input type='hidden' name='redirect' value='{escape(redirect)}'>"
        "<label for='username'>Username or email</label>"
        f"<input id='username' name='username' autocomplete='username' value='{escape(username)}' required>"
        "<label for='password'>Password</label>"
        "<input id='password' name='password' type='password' autocomplete='current-password' required>"
        "<button id='login' type='submit'>Sign in</button></form>"
    )
    return _page("Sign in", "".join(parts))


def consent_page(
    *,
    app_name: str,
    app_icon: str,
    username: str,
    scopes: list[str],
    action: str | None,
    csrf_token: str,
    cancel_href: str,
) -> str:
    """The "Authorize <app>" page: Allow POSTs to ``action``; Cancel is a plain link.

    ``action=None`` renders G4's ``oauth2allow.html`` shape: a ``<form method="POST">`` with no
    ``action`` (it posts to the same URL and query) and the "full access" sentence for ``coder:all``.
    """
    icon = ""
    if app_icon.startswith(("https://", "http://", "/")):
        icon = f"<img src='{escape(app_icon)}' alt='' width='48' height='48'>"
    app, user = escape(app_name), escape(username)
    full = not scopes or scopes == ["coder:all"]
    if action is None:
        if full:
            question = f"<p id='question'>Allow {app} to have full access to your {user} account?</p>"
            scope_html = ""
        else:
            question = (
                f"<p id='question'>Allow {app} to access your {user} account with these permissions?</p>"
            )
            items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
            scope_html = (
                f"<ul id='scopes'>{items}</ul><p>These are technical permission names; "
                "the app can never do more than your account can.</p>"
            )
        form = "<form id='allow-form' method='POST'>"
    else:
        scope_html = (
            "<li>full access to your account</li>"
            if full
            else "".join(f"<li>{escape(s)}</li>" for s in scopes)
        )
        question = f"<p><strong>{app}</strong> is asking for:</p>"
        scope_html = f"<ul id='scopes'>{scope_html}</ul>"
        form = f"<form method='post' action='{escape(action)}'>"
    body = (
        f"{icon}<h1>Authorize {app}</h1>"
        f"<p>Signed in as <strong id='user'>{user}</strong>.</p>{question}{scope_html}"
        f"{form}"
        f"<input type='hidden' name='csrf_token' value='{escape(csrf_token)}'>"
        "<button id='allow' type='submit'>Allow</button> "
        f"<a id='cancel' href='{escape(cancel_href)}'>Cancel</a></form>"
    )
    return _page(f"Authorize {app_name}", body)


def error_page(*, status: int, title: str, description: str) -> str:
    body = f"<h1 id='title'>{escape(title)}</h1><p id='description'>{escape(description)}</p><p>{status}</p>"
    return _page(title, body)


def home_page(*, username: str | None) -> str:
    who = f"Signed in as <strong>{escape(username)}</strong>." if username else "<a href='/login'>Sign in</a>"
    return _page("Home", f"<h1>Coder (fake deployment)</h1><p>{who}</p>")
