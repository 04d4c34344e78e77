"""CSRF: every form carries its session's token, and every POST must send it back.

The session cookie is SameSite=Strict already; the token also stops a form posted from
a page that shares the site (another port on the box) and makes a refused request
obvious in the log.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import FormData

from agent.console.sessions import Session

FIELD = "csrf"


class CsrfError(Exception):
    """A form without the session's token: refused, nothing changed."""


def check(form: FormData, session: Session | None) -> None:
    sent = form.get(FIELD)
    if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise CsrfError("missing or wrong CSRF token")
