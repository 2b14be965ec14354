"""Reports: disclosure control everywhere, snapshots over time, shape, benchmarks, outputs, API."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import App, build
from bot.reporting import render
from bot.reporting.figures import build as build_figures
from bot.reporting.shape import ShapeKind, classify
from bot.settings import Settings
from bot.web import create_app
from survey.content import question
from tests.conftest import FakeClock
from tests.driver import Person, loop_ticks
from tests.reporting_audit import leaks, truth_of

LEVELS = ["Frontline", "Supervisor", "Manager", "Director"]
FUNCTIONS = ["Operations", "Sales", "Finance"]
LOCATIONS = ["North", "South"]
ORG = f"""
[organisation]
name = "Test Co"
sector = "legal"
headcount = 200

[followups.level]
question = "Level?"
options = {json.dumps(LEVELS)}

[followups.function]
question = "Function?"
options = {json.dumps(FUNCTIONS)}

[followups.location]
question = "Location?"
options = {json.dumps(LOCATIONS)}

[headcount.level]
Frontline = 90
Supervisor = 30
Manager = 40
Director = 20
"""
DIMENSIONS = {"level": LEVELS, "function": FUNCTIONS, "location": LOCATIONS}


@pytest.fixture
async def org_app(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> AsyncIterator[App]:
    (tmp_path / "keyq.toml").write_text(ORG, encoding="utf-8")
    keyq = await build(make_settings(admin_token="s3cret-token-0123456789"), clock=clock)
    yield keyq
    await keyq.close()


async def add(app: App, people: list[tuple[str, str, str, str]], start: int = 0) -> None:
    """Stores answers as the conversation would, then moves every complete batch in."""
    for n, (kq, level, function, location) in enumerate(people, start=start):
        async with app.store.unit() as unit:
            assert await unit.record_answer(
                "workforce",
                n.to_bytes(32, "big"),
                {"kq": kq, "level": level, "function": function, "location": location},
            )
    await app.store.flush("workforce", batch=10)


def tempting_crowd() -> list[tuple[str, str, str, str]]:
    """Small groups chosen to tempt differencing: a level of 11, a function of 9, and a unit
    (Supervisor) where everyone gave the same answer."""
    people = []
    for i in range(60):
        people.append(
            (
                ["routine", "craft", "clerical", "prof"][i % 4],
                "Frontline",
                "Operations" if i % 3 else "Sales",
                LOCATIONS[i % 2],
            )
        )
    people += [("routine", "Supervisor", "Operations", "North")] * 20
    for i in range(30):
        people.append((["prof", "mgr", "clerical"][i % 3], "Manager", "Sales", LOCATIONS[i % 2]))
    for i in range(11):
        people.append(
            (["prof", "mgr", "pnts"][i % 3], "Director", "Finance" if i < 9 else "Sales", "South")
        )
    people += [("other", "", "Operations", "")] * 9
    return people  # 130 people: 13 full batches


def audit_report_json(data: dict, threshold: int = 10) -> None:  # type: ignore[type-arg]
    """No count under the threshold appears, and no row gives one away by subtraction."""
    rows = [data["overall"]] + [r for b in data["breakdowns"] for r in b["rows"]]
    for row in rows:
        counts = [g["count"] for g in row["groups"]]
        shown = [c for c in counts if c is not None]
        assert all(c >= threshold or (c == 0 and not row["answers"]) for c in shown), row
        if row["answers"]:
            assert row["answers"] not in counts, row  # nobody's answer follows from the unit
            if None in counts:
                hidden_total = row["answers"] - sum(shown)
                if hidden_total == 0:  # only empty groups hidden: others must be spread out
                    assert sum(1 for c in shown if c) >= 2, row
                else:
                    assert counts.count(None) >= 2 and hidden_total >= threshold, row
        for group in row["groups"]:
            assert group["share"] not in (0.0, 1.0), row


async def test_small_groups_never_show_in_any_output(org_app: App) -> None:
    await add(org_app, tempting_crowd())
    report = await org_app.report()
    data = json.loads(render.json_text(report))
    audit_report_json(data)
    rows = {(b["dimension"], r["unit"]): r for b in data["breakdowns"] for r in b["rows"]}
    director = rows["level", "Director"]  # 11 people, none of their groups reaches 10
    assert director["answers"] in (None, 11)
    assert all(g["count"] is None for g in director["groups"])
    assert rows["function", "Finance"]["answers"] is None  # 9 people: never shown
    assert rows["level", "Not stated"]["answers"] is None
    supervisor = rows["level", "Supervisor"]
    assert supervisor["answers"] == 20
    assert all(g["count"] is None for g in supervisor["groups"])  # all gave the same answer
    for line in csv.DictReader(io.StringIO(render.csv_text(report))):
        assert line["count"] == "" or int(line["count"]) >= 10
        assert (line["count"] == "") == (line["status"] != "shown")
    table = render.text(report)
    assert "Finance" in table and "fewer than 10" in table


async def test_every_figure_passes_the_independent_audit(org_app: App) -> None:
    await add(org_app, tempting_crowd())
    tally = await org_app.store.tally("workforce")
    values, _, _ = build_figures(tally, question(), DIMENSIONS)
    report = json.loads(render.json_text(await org_app.report()))
    assert leaks([report], [truth_of(values)]) == []


async def test_snapshots_three_answers_apart_reveal_nothing(org_app: App, clock: FakeClock) -> None:
    await add(org_app, tempting_crowd())
    first = await org_app.report(publish=True)
    # Three more answers, forced into the totals (as closing a campaign would).
    await add(org_app, [("routine", "Director", "Finance", "South")] * 3, start=500)
    await org_app.store.flush("workforce", batch=1, force=True)
    clock.advance(days=2)
    second = await org_app.report(wait=True)
    assert second.snapshot == first.snapshot + 1
    one, two = (json.loads(r.model_dump_json()) for r in (first, second))
    for a, b in zip(_figures(one).items(), _figures(two).items(), strict=True):
        (key, before), (_, after) = a, b
        if before is not None and after is not None:
            assert after == before or after - before >= 10, key
    assert two["overall"]["answers"] in (None, one["overall"]["answers"])


def _figures(data: dict) -> dict[tuple[str, str, str], int | None]:  # type: ignore[type-arg]
    out: dict[tuple[str, str, str], int | None] = {}
    for dimension, row in [("all", data["overall"])] + [
        (b["dimension"], r) for b in data["breakdowns"] for r in b["rows"]
    ]:
        out[dimension, row["unit"], "answers"] = row["answers"]
        out[dimension, row["unit"], "classified"] = row["classified"]
        for g in row["groups"]:
            out[dimension, row["unit"], g["group"]] = g["count"]
    return out


async def test_report_is_a_snapshot_not_live(org_app: App, clock: FakeClock) -> None:
    await add(org_app, tempting_crowd())
    first = await org_app.report()
    newcomers = [("prof", "Manager", "Sales", "North")] * 5
    newcomers += [("routine", "Frontline", "Operations", "South")] * 5
    await add(org_app, newcomers, start=700)
    assert (await org_app.report()).snapshot == first.snapshot  # within the interval
    assert not org_app.publishing()
    clock.advance(hours=25)
    # Due: this report is the latest one, at once, and the next is published meanwhile.
    assert (await org_app.report()).snapshot == first.snapshot
    assert org_app.publishing("workforce")
    await org_app.reports_settled()
    later = await org_app.report()
    assert later.snapshot == first.snapshot + 1
    assert later.overall.answers == 140
    before = {g.group: g.count for g in first.overall.groups}
    for figure in later.overall.groups:  # five new in a group: that change is never shown
        old = before[figure.group]
        assert (
            figure.count is None
            or old is None
            or figure.count - old in (0,)
            or (figure.count - old >= 10)
        )


@pytest.fixture
def slow_protect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disclosure control that takes half a second, as it does once the history is long."""
    import time

    from bot.reporting import snapshots

    real = snapshots.protect

    def slow(*args: object, **kwargs: object) -> frozenset[object]:
        time.sleep(0.5)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshots, "protect", slow)


@pytest.mark.usefixtures("slow_protect")
async def test_publishing_leaves_the_event_loop_free(org_app: App) -> None:
    """A conversation on the same process is answered while a report publishes, not after it."""
    await add(org_app, tempting_crowd())
    async with loop_ticks() as ticks:
        report = await org_app.report()
    assert report.overall.answers == 130
    assert ticks.count >= 20  # about 50 in the half second; none if publishing held the loop


@pytest.mark.usefixtures("slow_protect")
async def test_a_due_report_answers_at_once_and_publishes_in_the_background(
    org_app: App, clock: FakeClock
) -> None:
    """An admin's "report" (or a guidance answer, or the dashboard) never waits for a due
    snapshot's audit: it shows the latest and says newer figures are on their way."""
    await add(org_app, tempting_crowd())
    admin = Person(org_app.engine, "hr-admin")
    await admin.say("report")
    admin.expect("report 1,")
    admin.expect_not("Newer figures")
    await add(org_app, [("routine", "Frontline", "Operations", "South")] * 10, start=700)
    clock.advance(hours=25)
    await admin.say("report")
    admin.expect("report 1,", "Newer figures are being checked for publishing")
    assert len(await org_app.store.snapshots("workforce")) == 1  # answered before the audit
    await admin.say("report")  # asked again meanwhile: one publish, not two
    await org_app.reports_settled()
    assert len(await org_app.store.snapshots("workforce")) == 2
    await admin.say("report")
    admin.expect("report 2,")
    admin.expect_not("Newer figures")
    clock.advance(hours=25)  # due again, but nothing has changed: nothing to check or say
    await admin.say("report")
    admin.expect("report 2,")
    admin.expect_not("Newer figures")
    assert not org_app.publishing()


async def test_a_background_publish_that_fails_leaves_the_latest_report_and_tries_again(
    org_app: App,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.reporting import snapshots

    await add(org_app, tempting_crowd())
    first = await org_app.report()
    await add(org_app, [("routine", "Frontline", "Operations", "South")] * 10, start=700)
    clock.advance(hours=25)
    real = snapshots.protect

    def broken(*args: object, **kwargs: object) -> frozenset[object]:
        raise RuntimeError("Frontline 13")  # as if a message carried figures

    monkeypatch.setattr(snapshots, "protect", broken)
    assert (await org_app.report()).snapshot == first.snapshot
    await org_app.reports_settled()
    assert not org_app.publishing()
    assert [r.getMessage() for r in caplog.records if "snapshot" in r.getMessage()] == [
        "publishing a report snapshot failed (RuntimeError)"  # the type only, never the text
    ]
    assert len(await org_app.store.snapshots("workforce")) == 1
    monkeypatch.setattr(snapshots, "protect", real)
    assert (await org_app.report()).snapshot == first.snapshot  # asked again: tried again
    await org_app.reports_settled()
    assert (await org_app.report()).snapshot == first.snapshot + 1


@pytest.mark.usefixtures("slow_protect")
async def test_two_reports_published_at_once_store_one_snapshot(org_app: App) -> None:
    """Two admins (or two processes) publishing together: each snapshot is audited against the
    ones before it, so the second, protected without knowing the first, is not stored; it is
    protected again, finds the same figures, and shows the first."""
    import asyncio

    await add(org_app, tempting_crowd())
    first, second = await asyncio.gather(org_app.report(publish=True), org_app.report(publish=True))
    assert first.snapshot == second.snapshot
    assert len(await org_app.store.snapshots("workforce")) == 1


async def test_a_snapshot_protected_against_a_stale_history_is_not_stored(org_app: App) -> None:
    store = org_app.store
    stored = await store.add_snapshot("workforce", {"values": []}, after=None)
    assert stored is not None
    assert await store.add_snapshot("workforce", {"values": []}, after=None) is None
    assert await store.add_snapshot("workforce", {"values": []}, after=stored.id + 1) is None
    assert [s.id for s in await store.snapshots("workforce")] == [stored.id]
    later = await store.add_snapshot("workforce", {"values": []}, after=stored.id)
    assert later is not None and later.id > stored.id


def test_cliff_edge_pyramid_and_neither() -> None:
    cliff = classify([("Entry", 0.52), ("Team lead", 0.49), ("Manager", 0.21), ("Head", 0.19)])
    assert cliff.kind is ShapeKind.CLIFF_EDGE
    assert (cliff.steepest_from, cliff.steepest_to) == ("Team lead", "Manager")
    assert "28 points" in cliff.explain() or "28 of" in cliff.explain()
    pyramid = classify([("Entry", 0.55), ("Team lead", 0.45), ("Manager", 0.36), ("Head", 0.27)])
    assert pyramid.kind is ShapeKind.PYRAMID
    flat = classify([("Entry", 0.40), ("Team lead", 0.42), ("Manager", 0.39)])
    assert flat.kind is ShapeKind.NEITHER
    assert classify([("Entry", 0.4)]).kind is ShapeKind.NOT_ENOUGH_DATA


async def test_shape_and_benchmarks_through_the_report(org_app: App) -> None:
    cliff = []
    for level, working in (
        ("Frontline", 30),
        ("Supervisor", 28),
        ("Manager", 12),
        ("Director", 11),
    ):
        cliff += [("routine", level, "Operations", "North")] * working
        cliff += [("prof", level, "Operations", "North")] * (50 - working)
    await add(org_app, cliff)
    report = await org_app.report()
    assert report.shape is not None and report.shape.kind is ShapeKind.CLIFF_EDGE
    assert report.shape.drop_between == ("Supervisor", "Manager")
    assert dict(report.shape.working_class_by_level)["Manager"] == pytest.approx(0.24)
    overall = {g.group.value: g for g in report.overall.groups}
    working = overall["working_class"]
    assert working.share == pytest.approx(81 / 200)
    assert working.national == pytest.approx(0.39) and working.sector == pytest.approx(0.23)
    assert working.national_gap_points == pytest.approx(40.5 - 39, abs=0.05)
    assert working.sector_gap_points == pytest.approx(40.5 - 23, abs=0.05)
    assert report.sector_benchmark == "Legal"
    levels = {r.unit: r for r in report.breakdowns[0].rows}
    assert levels["Frontline"].response_rate == pytest.approx(50 / 90)
    assert levels["Frontline"].below_target is True
    assert levels["Supervisor"].below_target is False
    assert "Cliff edge" in render.text(report)


def test_api_needs_the_admin_token(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(admin_token="s3cret-token-0123456789"))) as client:
        assert client.get("/api/report").status_code == 401
        bad = client.get("/api/report", headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
        ok = client.get("/api/report", headers={"Authorization": "Bearer s3cret-token-0123456789"})
        assert ok.status_code == 200 and ok.json()["threshold"] == 10
        audit_report_json(ok.json())
        chart = client.get(
            "/api/report/chart.png", headers={"Authorization": "Bearer s3cret-token-0123456789"}
        )
        assert chart.content.startswith(b"\x89PNG")
        assert (
            client.get(
                "/api/report?campaign=nope",
                headers={"Authorization": "Bearer s3cret-token-0123456789"},
            ).status_code
            == 404
        )
        assert client.get("/docs").status_code == 404  # no CDN-loaded docs page
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/api/openapi.json").status_code == 401
        schema = client.get(
            "/api/openapi.json", headers={"Authorization": "Bearer s3cret-token-0123456789"}
        ).json()
        assert "/api/report" in schema["paths"]
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_api_is_closed_without_a_configured_token(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/api/report", headers={"Authorization": "Bearer "}).status_code == 401
