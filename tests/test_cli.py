"""The keyq command as a newcomer and an operator use it: scripted chats, report, key rotation."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.serve import COMMAND
from tests.test_privacy import as_bytes, forbidden_for


def keyq(
    cwd: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEYQ_")}
    result = subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


# (name, lines typed): answer now, then an option number. 40 people, four full batches:
# professional 15 (1, 2), working class 12 (4, 5), intermediate 6 (3, 7), other 2 (8) and
# prefer not to say 5 (9).
OPTIONS = [1] * 10 + [2] * 5 + [5] * 8 + [4] * 4 + [3] * 4 + [7] * 2 + [8] * 2 + [9] * 5
CROWD = [(f"person-{i:02d}", f"1\n{option}\n") for i, option in enumerate(OPTIONS)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where a crowd has answered through ``keyq chat`` on the default settings."""
    cwd = tmp_path_factory.mktemp("newcomer")
    for name, lines in CROWD:
        out = keyq(cwd, "chat", "--as", name, stdin=lines).stdout
        assert "Thank you, that's done." in out, out
    return cwd


def test_scripted_chat_shows_numbered_choices_and_creates_private_keys(workdir: Path) -> None:
    out = keyq(workdir, "chat", "--as", "newcomer", stdin="").stdout
    assert "1) Answer now\n2) I prefer not to say\n3) How my answer is protected\n4) Not now" in out
    assert (workdir / "keyq.db").exists()
    assert (workdir / "keyq.keys").stat().st_mode & 0o077 == 0


def test_second_attempt_and_nonsense(workdir: Path) -> None:
    again = keyq(workdir, "chat", "--as", "person-00", stdin="1\n1\n").stdout
    assert "already answered" in again and "main household earner" not in again
    odd = keyq(workdir, "chat", "--as", "newcomer-2", stdin="1\nbanana\n42\n\nhelp\n9\n").stdout
    assert odd.count("didn't catch that") == 2
    assert "Thank you, that's done." in odd


def test_a_short_topic_at_the_key_question_in_the_terminal(workdir: Path) -> None:
    """ "grad scheme" typed with the key question open gets its tip and the question again,
    numbered on from the tip's choices, so "1" is another tip, not an answer; "team leader"
    (maybe the earner's job) gets only the question; the answer after it counts."""
    lines = "1\ngrad scheme\n1\nteam leader\n1\n"
    out = keyq(workdir, "chat", "--as", "topic", stdin=lines).stdout
    tip = out.index("Widening the talent pool:")
    assert "1) Another tip" in out[tip:]
    assert "When you're ready, carry on here:\n4) Professional" in out[tip:]
    assert out.count("1) Another tip") == 2  # "1" showed another tip, and stored nothing
    assert "didn't catch that" in out[tip:] and "Progression:" not in out
    assert out.count("Thank you, that's done.") == 1 and out.rstrip().endswith("protected.")


def test_database_holds_no_identity_or_plaintext(workdir: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{workdir / 'keyq.db'}")
    with engine.connect() as conn:
        cells = [
            as_bytes(v)
            for name in sa.inspect(conn).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            for v in row
        ]
    engine.dispose()
    blob = b"\n".join(cells).lower()
    for name, _ in CROWD:
        for needle in forbidden_for(name):
            assert needle.lower() not in blob
    assert b"routine" not in blob and b"prof" not in blob


def test_report_hides_small_groups_then_survives_rotation(workdir: Path) -> None:
    report = keyq(workdir, "report").stdout
    assert "40 answers in the totals" in report
    assert re.search(r"^Professional +15 ", report, re.M)
    assert re.search(r"^Working class +12 ", report, re.M)
    for small in ("Intermediate", "Other", "Prefer not to say"):
        assert re.search(rf"^{small} +<10 ", report, re.M), small  # truly under 10
    old = keyq(workdir, "keys", "list").stdout.split()[0]
    rotated = keyq(workdir, "keys", "rotate").stdout
    assert "re-encrypted" in rotated
    refused = keyq(workdir, "keys", "retire", "nope", ok=False)
    assert refused.returncode != 0 and "no key" in refused.stderr
    keyq(workdir, "keys", "retire", old)
    assert old not in keyq(workdir, "keys", "list").stdout
    assert keyq(workdir, "report").stdout == report
    assert "already answered" in keyq(workdir, "chat", "--as", "person-01", stdin="").stdout


def test_campaigns_from_the_command_line(workdir: Path) -> None:
    keyq(
        workdir,
        "campaign",
        "start",
        "applicants-2027",
        "--title",
        "Applicants 2027",
        "--no-default",
    )
    listed = keyq(workdir, "campaign", "list").stdout
    assert "applicants-2027" in listed and "workforce" in listed
    out = keyq(
        workdir, "chat", "--as", "person-00", "--campaign", "applicants-2027", stdin="1\n4\n"
    ).stdout
    assert "Thank you, that's done." in out
    keyq(workdir, "campaign", "close", "applicants-2027")
    closed = keyq(workdir, "report", "--campaign", "applicants-2027").stdout
    assert "Answers in the totals: fewer than 10." in closed


def test_bad_settings_are_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "keyq.toml").write_text("[reporting]\nthreshold = 3\n", encoding="utf-8")
    bad = keyq(tmp_path, "report", ok=False)
    assert bad.returncode != 0 and "line 2" in bad.stderr and "threshold" in bad.stderr
    (tmp_path / "keyq.toml").unlink()
    bad = keyq(tmp_path, "report", env={"KEYQ_FLUSH_BATCH": "5"}, ok=False)
    assert "KEYQ_FLUSH_BATCH" in bad.stderr
    bad = keyq(tmp_path, "report", env={"KEYQ_DATABASE_URL": "mysql://x/y"}, ok=False)
    assert "unsupported database" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "keyq.keys").exists()  # nothing is created by a refused start


def test_db_upgrade_on_postgres_and_chat(tmp_path: Path) -> None:
    url = os.environ.get("KEYQ_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("KEYQ_TEST_POSTGRES_URL not set")
    schema = "keyq_cli_" + os.urandom(4).hex()
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        env = {
            "KEYQ_DATABASE_URL": f"{url}?options=-csearch_path%3D{schema}",
            "KEYQ_KEYS_FILE": str(tmp_path / "pg.keys"),
        }
        assert "up to date" in keyq(tmp_path, "db", "upgrade", env=env).stdout
        out = keyq(tmp_path, "chat", "--as", "pg-person", stdin="1\n2\n", env=env).stdout
        assert "Thank you, that's done." in out
        assert "No answers have reached the totals yet" in keyq(tmp_path, "report", env=env).stdout
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
