"""Sign-in: who is using the app (``GREENDOOR_AUTH`` = none | password | oidc).

* ``none`` — the single local user, an admin (the default for the embedded demo).
* ``password`` — the login form below against the ``users`` table
  (:func:`greendoor.users.authenticate`: argon2id hashes, lockout, audited).
* ``oidc`` — company single sign-on through Streamlit's ``st.login`` (provider set in
  ``.streamlit/secrets.toml`` ``[auth]``); the e-mail the provider returns must be a
  user added with ``greendoor users add EMAIL --role ROLE --no-password``.

The signed-in :class:`~greendoor.access.Principal` is kept in
``st.session_state["principal"]`` and passed to every library read and write that
checks access.
"""

from __future__ import annotations

import streamlit as st

from app import data
from greendoor import users as U
from greendoor.access import LOCAL_ADMIN, Principal
from greendoor.text import md

KEY = "principal"
#: Browser cookie holding the signed session token (greendoor.users.session_token).
COOKIE = "greendoor_session"


def signed_in() -> Principal | None:
    """The signed-in user, or ``None`` (never ``None`` in mode ``none``). In mode
    ``password`` a reload keeps the user signed in through the session cookie (signed,
    expiring; :func:`greendoor.users.session_principal`)."""
    mode = U.auth_mode()
    if mode == "none":
        return LOCAL_ADMIN
    p = st.session_state.get(KEY)
    if isinstance(p, Principal):
        return p
    if mode == "password" and not st.session_state.get("signed_out"):
        p = U.session_principal(data.engine(), st.context.cookies.get(COOKIE))
        if p is not None:
            st.session_state[KEY] = p
            return p
    return None


def _set_cookie(value: str, max_age: int) -> None:
    """Set (or, with ``max_age`` 0, remove) the session cookie in the browser. Streamlit
    has no server-side cookie API; a zero-height component writes it (SameSite=Strict,
    Secure over HTTPS)."""
    import streamlit.components.v1 as components

    components.html(
        "<script>const d = window.parent.document; d.cookie = "
        f"'{COOKIE}={value}; path=/; max-age={int(max_age)}; SameSite=Strict' + "
        "(window.parent.location.protocol === 'https:' ? '; Secure' : '');</script>",
        height=0)


def sign_in_screen() -> None:
    """The sign-in form (password) or single-sign-on button (oidc). Signing in reruns
    the script on the same URL, so a deep link opens after sign-in."""
    if U.auth_mode() == "password":
        _password_form()
    else:
        _oidc()


def current() -> Principal:
    """The signed-in user; otherwise (a page run on its own) renders the sign-in
    screen and stops the script."""
    p = signed_in()
    if p is None:
        sign_in_screen()
        st.stop()
    return p


def _no_users_note() -> bool:
    with data.engine().connect() as conn:
        n = U.user_count(conn)
    if n == 0:
        st.warning("No users yet. On the server, create the first admin:\n\n"
                   "`greendoor users add NAME --role admin`", icon=":material/person_add:")
    return n == 0


def _password_form() -> None:
    st.title("Sign in to Greendoor")
    if st.session_state.pop("clear_cookie", False):
        _set_cookie("", 0)
    if _no_users_note():
        return
    with st.form("login", width=420):
        username = st.text_input("User name", max_chars=200, key="login_user",
                                 autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=500, key="login_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            p = U.authenticate(data.engine(), username, password)
        except U.LoginFailed as exc:
            st.error(md(exc), icon=":material/lock:")
            return
        st.session_state[KEY] = p
        st.session_state.pop("signed_out", None)
        st.session_state["set_cookie"] = U.session_token(data.engine(), p)
        st.rerun()


def _oidc() -> None:
    st.title("Sign in to Greendoor")
    try:
        configured = "auth" in st.secrets
    except FileNotFoundError:
        configured = False
    if not configured:
        st.error("Single sign-on is selected (`GREENDOOR_AUTH=oidc`) but no identity "
                 "provider is configured: add an `[auth]` section to "
                 "`.streamlit/secrets.toml` (README, \"Sign-in and roles\").",
                 icon=":material/key_off:")
        return
    if not st.user.get("is_logged_in"):  # (a mapping; AppTest has no key at all)
        st.button("Sign in with your company account", type="primary", on_click=st.login)
        return
    try:
        st.session_state[KEY] = U.sso_principal(data.engine(), st.user.get("email"))
    except U.LoginFailed as exc:
        st.error(str(exc), icon=":material/lock:")
        st.button("Sign out", on_click=st.logout)
        return
    st.rerun()


def sidebar(p: Principal) -> None:
    """Who is signed in, and a sign-out button (modes password and oidc)."""
    mode = U.auth_mode()
    if mode == "none":
        return
    token = st.session_state.pop("set_cookie", None)
    if token:
        _set_cookie(token, U.SESSION_HOURS * 3600)
    with st.sidebar:
        st.caption(f"Signed in as **{md(p.display)}** · {p.role}"
                   + (f" · book: {md(p.book)}" if p.book else ""))
        if st.button("Sign out", key="sign_out"):
            st.session_state.pop(KEY, None)
            st.session_state["signed_out"] = True  # the cookie is still sent this session
            st.session_state["clear_cookie"] = True
            if mode == "oidc":
                st.logout()
            st.rerun()
