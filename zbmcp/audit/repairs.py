"""The records the chain's writer adds about the log itself, so that what happened to the file stays on the
record: a torn line sealed, a chain file found missing.

A torn line: a record is written with one `write`; when the disk fills up halfway through it (or the power
goes), the start of the record stays in the file without its end. The writer raised, so the record counts as
not written (a call whose record fails is refused), but the line stays. The next writer (a restart, or the
next record once there is room) seals it: before its own record it appends one that says what was torn,
carrying the SHA-256 of the torn lines, chained to the last whole record. `zbmcp audit verify` then reports
the line as torn and sealed, not as tampering; and a sealed line cannot be swapped for other bytes afterwards.

A chain file found missing (or damaged) while the log holds records: the writer goes on from the log's last
record, and says so in a record first, since until then a cut-off end of the log would have gone unseen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

TORN = "audit.torn"  # the kinds of these records (zbmcp.audit.events)
CHAIN_FILE = "audit.chain_file"


def is_torn(line: bytes) -> bool:
    """Whether a line of the log is no whole JSON value: the start of a record whose write was cut off.
    (Cutting a record anywhere before its closing brace leaves unbalanced JSON.)"""
    try:
        json.loads(line)
    except ValueError:  # UnicodeDecodeError included: a write cut inside a multi-byte character
        return True
    return False


def digest(torn: list[bytes]) -> str:
    """What a seal names: the SHA-256 of the torn lines, joined as they stand in the log."""
    return hashlib.sha256(b"\n".join(torn)).hexdigest()


def seal_fields(torn: list[bytes], after: int) -> dict[str, Any]:
    """The record that seals `torn` (the lines cut off since record `after`), before it is chained. Its size
    does not grow with theirs."""
    many = len(torn) > 1
    size = sum(len(line) for line in torn)
    return _fields(TORN, f"{f'{len(torn)} lines' if many else 'a line'} of the audit log ({size} bytes) "
                         f"{'were' if many else 'was'} cut off midway by a write that failed (a full disk, a "
                         f"power cut): not {'records' if many else 'a record'}, sealed here; the chain goes "
                         f"on from record {after}",
                   torn={"lines": len(torn), "bytes": size, "sha256": digest(torn)})


def sealed(record: dict[str, Any]) -> str | None:
    """The digest of the torn lines a record seals; None when it is no sealing record."""
    torn = record.get("torn")
    if record.get("event") != TORN or not isinstance(torn, dict):
        return None
    named = torn.get("sha256")
    return named if isinstance(named, str) else None


def chain_file_fields(name: str, after: int) -> dict[str, Any]:
    """The record that says the chain file `name` was missing or damaged when record `after` ended the log."""
    return _fields(CHAIN_FILE, f"the chain file {name} was missing or damaged, so a cut-off end of the log "
                               "would have gone unseen until now; the chain goes on from record "
                               f"{after}, the last in the log")


def _fields(event: str, sentence: str, **more: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"time": now, "event": event, "decision": "failed", "sentence": sentence, **more}
