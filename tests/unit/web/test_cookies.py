"""Strict cookie parsing: no smuggling of a planted session past the __Host- rule."""

from __future__ import annotations

from xerotier.web import cookies
from xerotier.web.cookies import PRESESSION, SESSION, parse, present

REAL = "R" * 43
PLANTED = "P" * 43


def test_first_occurrence_wins_and_spaces_do_not_split() -> None:
    assert parse(f"{SESSION}={REAL}; q=x {SESSION}={PLANTED}".encode()) == {SESSION: REAL}
    assert parse(f"{SESSION}={REAL}; {SESSION}={PLANTED}".encode()) == {SESSION: REAL}


def test_quotes_do_not_hide_the_real_cookie() -> None:
    assert parse(f'x="a; {SESSION}={REAL}; y=b"; {SESSION}={PLANTED}'.encode()) == {SESSION: REAL}
    assert parse(f'x="unbalanced; {SESSION}={REAL}'.encode()) == {SESSION: REAL}


def test_only_token_shaped_values_count() -> None:
    assert parse(f"{SESSION}=short".encode()) == {}
    assert parse(f"{SESSION}={REAL}x".encode()) == {}
    assert parse(f"{PRESESSION}={REAL}; other={PLANTED}".encode()) == {PRESESSION: REAL}
    assert parse(b"") == {} and parse(None) == {}


def test_presence_is_known_even_when_invalid() -> None:
    assert present(f"{SESSION}=garbage".encode(), SESSION)
    assert not present(b"x=1", SESSION)


def test_set_cookie_header_attributes() -> None:
    header = cookies.header(SESSION, REAL).decode()
    assert header == f"{SESSION}={REAL}; Path=/; Secure; HttpOnly; SameSite=Lax"
