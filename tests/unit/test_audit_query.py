"""Reading the audit log newest first, by pages and filters, from the end of the file."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from zbmcp.audit.query import AuditFilter, appended, newest

START = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
AGENTS = ["reporting", "bookkeeper", "night-batch"]
DECISIONS = ["allowed", "allowed", "denied", "failed"]


def record(i: int) -> dict:
    agent = AGENTS[i % 3]
    return {"time": (START + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z"), "agent": agent,
            "tool": "list_invoices" if i % 2 else "create_invoice", "organization": "10234695",
            "decision": DECISIONS[i % 4], "sentence": f'agent "{agent}" did thing {i}', "n": i}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    lines = [json.dumps(record(i)) for i in range(300)]
    lines.insert(150, '{"time": "2026-11-25T10:02:30Z", "agent": "bookkeeper", "cut sho')  # a crash mid-line
    path.write_text("\n".join(lines) + "\n")
    return path


def all_pages(path: Path, filters: AuditFilter, limit: int, index=None) -> list[int]:
    seen: list[int] = []
    before = None
    for _ in range(1000):
        page = newest(path, filters, limit=limit, before=before, index=index)
        seen.extend(r["n"] for r in page.records)
        if page.older is None:
            return seen
        before = page.older
    raise AssertionError("pages never ended")


@pytest.mark.parametrize("limit", [1, 7, 50, 500])
def test_pages_walk_every_record_once_newest_first(log: Path, limit: int):
    assert all_pages(log, AuditFilter(), limit) == list(range(299, -1, -1))


def test_filters_pick_exactly_the_matching_records(log: Path):
    filters = AuditFilter(agent="bookkeeper", decision="denied", tool="create_invoice")
    expected = [i for i in range(299, -1, -1)
                if AGENTS[i % 3] == "bookkeeper" and DECISIONS[i % 4] == "denied" and i % 2 == 0]
    assert all_pages(log, filters, 5) == expected and expected


def test_a_time_range_is_found_by_search_not_by_reading_everything(log: Path):
    filters = AuditFilter(since=START + dt.timedelta(seconds=100), until=START + dt.timedelta(seconds=120))
    assert all_pages(log, filters, 4) == list(range(120, 99, -1))
    assert all_pages(log, AuditFilter(since=START + dt.timedelta(hours=1)), 10) == []


def test_records_appended_after_a_cursor_arrive_newest_first(log: Path):
    page = newest(log, AuditFilter(agent="reporting"), limit=3)
    with log.open("a") as handle:
        handle.write(json.dumps(record(300)) + "\n" + json.dumps(record(301)) + "\n" + '{"time": "partial')
    later = appended(log, AuditFilter(), after=page.end)
    assert [r["n"] for r in later.records] == [301, 300]
    assert [r["n"] for r in appended(log, AuditFilter(agent="reporting"), after=page.end).records] == [300]
    # the partial line waits until complete
    assert appended(log, AuditFilter(), after=later.end).records == []


def test_an_empty_or_missing_log_has_no_records(tmp_path: Path):
    assert newest(tmp_path / "none.jsonl").records == []
    (tmp_path / "empty.jsonl").write_text("")
    assert newest(tmp_path / "empty.jsonl").records == []


def test_a_call_written_ahead_is_one_row_and_an_unfinished_one_says_its_outcome_is_unknown(tmp_path: Path):
    def at(second: int) -> str:
        return (START + dt.timedelta(seconds=second)).isoformat().replace("+00:00", "Z")

    base = {"agent": "bookkeeper", "tool": "create_invoice", "organization": "10234695", "rule": "allowed"}
    lines = [
        {**base, "time": at(1), "call_id": "c1", "phase": "intent", "decision": "allowed",
         "sentence": "c1 intent"},
        {**base, "time": at(2), "call_id": "c2", "phase": "intent", "decision": "allowed",
         "sentence": "c2 intent"},
        {**base, "time": at(3), "call_id": "c1", "phase": "outcome", "decision": "allowed",
         "sentence": "c1 done"},
        {"time": at(4), "event": "console.sign_in", "decision": "allowed", "sentence": "olivia signed in"},
    ]
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rows = newest(path).records
    assert [r["sentence"].split(";")[0] for r in rows] == ["olivia signed in", "c1 done", "c2 intent"]
    assert rows[2]["decision"] == "unknown" and "no outcome was recorded" in rows[2]["sentence"]
    assert [r["call_id"] for r in newest(path, AuditFilter(decision="unknown")).records] == ["c2"]
    assert [r["call_id"] for r in newest(path, AuditFilter(decision="allowed",
                                                           tool="create_invoice")).records] == ["c1"]
    assert [r.get("call_id") for r in appended(path, after=0).records] == [None, "c1"]  # intents are not news


def test_the_zone_index_skips_only_what_cannot_match(tmp_path: Path, monkeypatch):
    from zbmcp.audit import query as audit_query

    monkeypatch.setattr(audit_query, "ZONE_BYTES", 2000)  # many small zones
    path = tmp_path / "audit.jsonl"
    records = [record(i) for i in range(300)]
    for r in records[:40]:
        r["agent"] = "retired"  # an agent seen only at the start of the log
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    index = audit_query.ZoneIndex()
    index.skippable(path, AuditFilter(agent="retired"))  # starts indexing
    deadline = time.monotonic() + 10  # the index is built in a worker thread: a bounded wait for it
    while index.building:
        assert time.monotonic() < deadline, "the index was not built in 10 s"
        time.sleep(0.005)
    filters = [AuditFilter(agent="retired"), AuditFilter(agent="nobody"), AuditFilter(decision="denied"),
               AuditFilter(agent="bookkeeper", tool="create_invoice"), AuditFilter()]
    assert index.skippable(path, AuditFilter(agent="retired"))  # the index is in use
    for chosen in filters:
        for limit in (3, 50):
            assert all_pages(path, chosen, limit, index) == all_pages(path, chosen, limit), chosen
    assert all_pages(path, AuditFilter(agent="retired"), 7, index) == list(range(39, -1, -1))


def mixed_log(path: Path) -> list[dict]:
    """Tool calls with the events zbmcp writes beside them: OAuth steps, console sign-ins, approvals, and a
    few lookalikes (a call whose sentence quotes an event name, an event named like a step but longer)."""
    events = [("oauth.token", "denied"), ("console.sign_in", "allowed"), ("approval.requested", "pending"),
              ("oauth.sign-in", "allowed"), ("console.refused", "denied"), ("approval.decided", "approved"),
              ("oauth.tokenizer", "denied"), ("console.sign_in", "denied")]
    records = []
    for i in range(400):
        if i % 3:
            r = record(i)
            if i % 50 == 1:
                r["sentence"] = 'the agent asked for "oauth.token" and "console.sign_in"'
        else:
            event, decision = events[(i // 3) % len(events)]
            r = {"time": record(i)["time"], "event": event, "decision": decision, "sentence": f"{event} {i}",
                 "agent": AGENTS[i % 3], "n": i}
        records.append(r)
    # Writers other than zbmcp's own may leave out the spaces: the index must still see the event.
    path.write_text("".join(json.dumps(r, separators=(",", ":") if r["n"] > 350 else None) + "\n"
                            for r in records))
    return records


@pytest.mark.parametrize("kind", ["call", "oauth", "oauth.token", "console", "console.sign_in", "approval",
                                  "approval.decided", "oauth.enroll"])
def test_the_event_filter_picks_a_kind_of_record_on_every_page_and_in_live_updates(tmp_path: Path, kind: str):
    from zbmcp.audit import events as audit_events

    path = tmp_path / "audit.jsonl"
    records = mixed_log(path)

    def wanted(r: dict, decision: str | None = None) -> bool:
        event = r.get("event")
        family_match = event == kind or (event or "").startswith(kind + ".")
        return (not event if kind == "call" else family_match) and decision in (None, r["decision"])

    expected = [r["n"] for r in reversed(records) if wanted(r)]
    assert (expected != []) == (kind != "oauth.enroll")
    for limit in (1, 7, 500):
        assert all_pages(path, AuditFilter(event=kind), limit) == expected
    denied = [r["n"] for r in reversed(records) if wanted(r, "denied")]
    assert all_pages(path, AuditFilter(event=kind, decision="denied"), 4) == denied
    assert [r["n"] for r in appended(path, AuditFilter(event=kind), after=0).records] == expected[:200]
    assert audit_events.problem(kind) is None


def test_the_zone_index_never_hides_a_record_of_the_chosen_kind(tmp_path: Path, monkeypatch):
    from zbmcp.audit import query as audit_query

    monkeypatch.setattr(audit_query, "ZONE_BYTES", 1500)  # many small zones, some without any event of a kind
    path = tmp_path / "audit.jsonl"
    records = mixed_log(path)
    index = audit_query.ZoneIndex()
    index.skippable(path, AuditFilter(event="oauth"))  # starts indexing
    deadline = time.monotonic() + 10  # the index is built in a worker thread: a bounded wait for it
    while index.building:
        assert time.monotonic() < deadline, "the index was not built in 10 s"
        time.sleep(0.005)
    assert index.skippable(path, AuditFilter(event="oauth.token"))  # the index is in use
    assert index.skippable(path, AuditFilter(event="oauth.enroll"))  # skips every zone for a step never seen
    kinds = ("call", "oauth", "oauth.token", "oauth.tokenizer", "console.sign_in", "approval", "oauth.enroll")
    for kind in kinds:
        narrow = AuditFilter(event=kind, decision="denied", agent="bookkeeper")
        for chosen in (AuditFilter(event=kind), narrow):
            assert all_pages(path, chosen, 5, index) == all_pages(path, chosen, 5), chosen
    late = [r["n"] for r in reversed(records) if r.get("event") == "oauth.token" and r["n"] > 350]
    assert late and set(late) <= set(all_pages(path, AuditFilter(event="oauth.token"), 50, index))


@pytest.mark.parametrize("kind", ["calls", "oauth.", "oauth.Token", 'oauth.x"y', "zoho", ".token",
                                  "oauth.a.b"])
def test_an_unknown_event_kind_is_named_with_the_choices(kind: str):
    from zbmcp.audit import events as audit_events

    said = audit_events.problem(kind)
    assert said is not None and repr(kind) in said and "oauth, console, approval" in said


def test_the_event_choices_are_the_events_zbmcp_writes():
    """An event written under a name the filter does not offer could not be found by an operator."""
    import re

    import zbmcp
    from zbmcp.audit import events as audit_events
    from zbmcp.audit import repairs

    source = "".join(p.read_text() for p in Path(zbmcp.__file__).parent.rglob("*.py"))
    written = set(re.findall(r'_audit\((?:[a-z]+, )?"([a-z]+\.[a-z_-]+)"', source))
    offered = {step for steps in audit_events.STEPS.values() for step in steps}
    assert written and written == {step for step in offered
                                   if not step.startswith(("oauth.", "audit.", "mcp."))}
    assert {"oauth.token", "oauth.sign-in", "oauth.bearer", repairs.TORN, repairs.CHAIN_FILE,
            audit_events.MCP_REFUSED} <= offered
    groups = dict(audit_events.choices())
    assert [value for value, _ in groups["OAuth sign-in"]][:2] == ["oauth", "oauth.authorize"]
