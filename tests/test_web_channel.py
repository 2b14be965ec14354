"""The web channel: single-use codes, pages, PRG, CSRF, guessing limits (no browser here;
tests/test_web_browser.py drives a real Chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bot.events import Choice, Reply
from bot.settings import Settings
from bot.web import create_app
from channels.web.translate import incoming, page
from storage.codes import ALPHABET, Codes, Status, display, new_code, normalise
from storage.database import urls


def test_codes_are_long_random_and_typed_forgivingly() -> None:
    made = {new_code() for _ in range(2000)}
    assert len(made) == 2000
    assert all(len(c) == 12 and set(c) <= set(ALPHABET) for c in made)
    assert len(ALPHABET) ** 12 >= 2**60
    code = "K7QX3MPA9TZD"
    assert display(code) == "K7QX-3MPA-9TZD"
    assert normalise("k7qx-3mpa-9tzd") == code and normalise(" K7QX 3MPA 9TZD ") == code
    assert normalise("O1IL") is None and normalise("K7QX-3MPA-9TZ!") is None
    assert normalise("K7QX3MPA9TZO") == "K7QX3MPA9TZ0"  # O read as zero


def test_forms_and_pages_translate_without_a_framework() -> None:
    event = incoming("K7QX3MPA9TZD", "workforce", {"choice": "kq:prof", "event": "abc"})
    assert event is not None and event.choice == "kq:prof" and event.event_id == "web:abc"
    assert incoming("K7QX3MPA9TZD", None, {"choice": "", "event": "abc"}) is None
    assert incoming("K7QX3MPA9TZD", None, {"choice": "x" * 500, "event": "e"}) is None
    shown = page(
        [
            Reply(text="Thanks, noted.", replaces_prompt=True),
            Reply(text="Intro\n- one\n- two", choices=(Choice("a", "A"),)),
        ],
        receipt="Thanks, noted.",
    )
    assert shown.step is not None and not shown.notices and not shown.final
    assert [b.kind for b in shown.step.blocks] == ["p", "list"]
    assert page([Reply(text="Thank you")], receipt="x").final


@pytest.fixture
def web(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "keyq.toml").write_text(
        '[organisation]\nname = "Northwind Logistics"\n\n[followups.level]\n'
        'question = "Which level is your job?"\noptions = ["Frontline", "Manager"]\n',
        encoding="utf-8",
    )
    with TestClient(create_app(make_settings())) as client:
        yield client


def tap(client: TestClient, html: str, label: str) -> str:
    form = re.search(r'name="csrf" value="([^"]+)".*?name="event" value="([^"]+)"', html, re.S)
    assert form, html
    value = re.search(rf'<button type="submit" name="choice" value="([^"]+)">{label}', html)
    assert value, f"no button {label!r} in {html}"
    answered = client.post(
        "/a/survey",
        data={"csrf": form[1], "event": form[2], "choice": value[1]},
        follow_redirects=False,
    )
    assert answered.status_code == 303 and answered.headers["location"] == "/a/survey"
    return client.get("/a/survey").text


def counts(client: TestClient) -> tuple[int, int]:
    keyq = client.app.state.keyq  # type: ignore[attr-defined]
    return client.portal.call(keyq.store.counts, "workforce")  # type: ignore[union-attr]


def make_codes(client: TestClient, count: int, campaign: str = "workforce") -> list[str]:
    keyq = client.app.state.keyq  # type: ignore[attr-defined]
    return client.portal.call(Codes(keyq.store).issue, campaign, count)[1]  # type: ignore[union-attr]


def test_a_card_answers_once_and_nothing_links_it_to_the_answer(web: TestClient) -> None:
    code = make_codes(web, 3)[0]
    first = web.get(f"/a/{code}")
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/a" in cookie
    assert code not in cookie and code not in first.text  # the code moves into a sealed cookie
    csp = first.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "I prefer not to say" in first.text and 'lang="en"' in first.text
    html = tap(web, first.text, "Answer now")
    assert "main household earner" in html
    html = tap(web, html, "Routine or manual/service")
    assert "Which level is your job?" in html and "Routine" not in html.split("<main")[1]
    assert counts(web) == (1, 1)  # the key answer is stored at once
    html = tap(web, html, "Frontline")
    assert "Thank you" in html and "Frontline" not in html.split("<main")[1]
    assert web.get("/a/survey").text.count("Thank you") >= 1  # a reload changes nothing
    assert counts(web) == (1, 1)
    again = web.get(f"/a/{code}")
    assert "This card has been used" in again.text  # spent: refused politely
    keyq = web.app.state.keyq  # type: ignore[attr-defined]
    engine = sa.create_engine(urls(keyq.settings.database_url)[1])
    with engine.connect() as conn:
        dump = b"".join(
            v if isinstance(v, bytes) else str(v).encode()
            for t in sa.inspect(conn).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))
            for v in row
        )
        spent = conn.scalar(sa.text("SELECT count(*) FROM codes WHERE spent"))
    engine.dispose()
    assert code.encode() not in dump and display(code).encode() not in dump
    assert spent == 1


def test_a_double_submit_and_an_old_form_count_once(web: TestClient) -> None:
    code = make_codes(web, 1)[0]
    html = tap(web, web.get(f"/a/{code}").text, "Answer now")
    form = re.search(r'name="csrf" value="([^"]+)".*?name="event" value="([^"]+)"', html, re.S)
    assert form
    data = {"csrf": form[1], "event": form[2], "choice": "kq:other"}
    web.post("/a/survey", data=data, follow_redirects=False)
    web.post("/a/survey", data=data, follow_redirects=False)  # the back button, resubmitted
    web.post("/a/survey", data={**data, "event": "fresh"}, follow_redirects=False)
    assert counts(web) == (1, 1)


def test_forged_forms_and_wrong_codes_are_refused(web: TestClient) -> None:
    code = make_codes(web, 1)[0]
    web.get(f"/a/{code}")
    forged = web.post("/a/survey", data={"csrf": "nope", "event": "e", "choice": "kq:prof"})
    assert forged.status_code == 400 and "start again" in forged.text
    assert counts(web) == (0, 0)
    wrong = web.get("/a/AAAA-BBBB-CCCC")
    assert wrong.status_code == 404 and "recognise that code" in wrong.text
    assert 'role="alert"' in wrong.text


def test_the_poster_asks_for_the_code(web: TestClient) -> None:
    code = make_codes(web, 1)[0]
    poster = web.get("/a")
    token = re.search(r'name="csrf" value="([^"]+)"', poster.text)
    assert token and '<label for="code">' in poster.text
    typed = web.post("/a", data={"csrf": token[1], "code": display(code).lower()})
    assert typed.status_code == 200 and "Answer now" in typed.text


def test_guessing_is_limited_and_ten_thousand_guesses_find_nothing(
    web: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    keyq = web.app.state.keyq  # type: ignore[attr-defined]
    real = set(make_codes(web, 50))
    codes = Codes(keyq.store)

    async def guess_all() -> list[Status]:
        found = []
        for _ in range(10_000):
            guess = new_code()
            if guess not in real:
                found.append((await codes.lookup(guess)).status)
        return found

    statuses = web.portal.call(guess_all)  # type: ignore[union-attr]
    assert len(statuses) >= 9_990 and set(statuses) == {Status.UNKNOWN}
    replies = [web.get(f"/a/{new_code()}").status_code for _ in range(12)]
    assert replies[:10] == [404] * 10 and replies[10:] == [429, 429]
    limited = web.get(f"/a/{sorted(real)[0]}")
    assert limited.status_code == 429 and "wait a minute" in limited.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "testclient" not in logged and not re.search(r"[0-9A-Z]{12}", logged)


def test_codes_of_one_campaign_answer_only_that_campaign(web: TestClient) -> None:
    keyq = web.app.state.keyq  # type: ignore[attr-defined]
    web.portal.call(  # type: ignore[union-attr]
        lambda: keyq.store.start_campaign("applicants-2027", "Applicants", make_default=False)
    )
    code = make_codes(web, 1, "applicants-2027")[0]
    html = tap(web, web.get(f"/a/{code}").text, "I prefer not to say")
    assert "Thank you" in html
    assert web.portal.call(keyq.store.counts, "applicants-2027") == (1, 1)  # type: ignore[union-attr]
    assert counts(web) == (0, 0)


def test_a_revoked_batch_stops_working(web: TestClient) -> None:
    keyq = web.app.state.keyq  # type: ignore[attr-defined]
    code = make_codes(web, 2)[0]
    assert web.portal.call(Codes(keyq.store).revoke, 1) == 2  # type: ignore[union-attr]
    assert web.get(f"/a/{code}").status_code == 404
