"""Reading the audit log's hash chain back (zbmcp.audit.chain): what `zbmcp audit verify` and the console's
audit page report, and what the files cannot prove.

What the files prove on their own:
- between the first and the last record read, no record was edited, removed, inserted or moved (`problem`);
- the start: a chain that begins at record 1 is whole from its start; one that begins later lost its first
  records (an older rotated file, or lines cut off the front), which the files cannot tell from retention;
- the end: the chain file beside the log names the last record zbmcp wrote; a log that ends before it (or is
  gone altogether) was cut short.
What is gone without the files showing whether on purpose (the first records, the chain file) is `missing`;
what they cannot show either way is `unproven`. An anchor (a head printed by an earlier verify, kept
elsewhere) proves the records up to it are the ones it was taken from, and makes whatever is `missing` a
failure: an anchored log must be whole.

A torn line (a write cut off midway by a full disk: zbmcp.audit.repairs) is not tampering: at the end of the
log it waits for the next writer to seal it; sealed, it is a note. A record saying the writer found the chain
file missing leaves the end of the log before it unproven.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zbmcp.audit import repairs
from zbmcp.audit.chain import GENESIS, Head, head_path, parse_head, sealed_hash


@dataclass
class Verification:
    """What a check of the chain found."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    problem: str | None = None  # the first break: a record edited, removed, inserted or moved, an end cut off
    missing: list[str] = field(default_factory=list)  # gone, and the files cannot say whether on purpose
    unproven: list[str] = field(default_factory=list)  # what the files cannot show either way
    notes: list[str] = field(default_factory=list)
    anchored: bool = False

    @property
    def intact(self) -> bool:
        """Nothing found broken (with an anchor, nothing missing either)."""
        return self.problem is None and not (self.anchored and self.missing)

    @property
    def proven(self) -> bool:
        """Intact, and nothing left that the files could not prove."""
        return self.intact and not self.missing and not self.unproven


@dataclass(frozen=True)
class _Line:
    file: str
    number: int
    raw: bytes
    link: Head | None  # its place in the chain, when it is a whole sealed record
    prev: str | None  # the hash of the record before, as the line says
    event: str | None  # what kind of event it records, if any (the log's own: zbmcp.audit.repairs)
    seals: str | None  # the digest of the torn lines it seals, when it is a sealing record
    torn: bool  # no whole JSON value: the start of a record whose write was cut off

    @property
    def where(self) -> str:
        return f"{self.file} line {self.number}"


def log_files(log: Path) -> list[Path]:
    """The log and its rotated siblings (NAME.1, NAME.2.gz, NAME-20261125...), oldest first."""
    siblings = [p for p in log.parent.glob(f"{log.name}?*") if p.is_file() and p.name != head_path(log).name]
    files = [*siblings, log] if log.exists() else siblings
    return sorted(files, key=first_seq)


def first_seq(path: Path) -> float:
    """The seq of the file's first chained record (infinity when it has none), to put files in order."""
    try:
        for line in _lines(path):
            if line.link is not None:
                return line.link.seq
    except _UNREADABLE:
        pass  # verify says so when it reads the file
    return float("inf")


def verify(files: Sequence[Path], *, head: Path | None = None,
           anchor: tuple[int, str] | None = None) -> Verification:
    """Walk the records of `files` (oldest first) and report the first edited, removed or reordered one, then
    whether the chain starts at its start and ends where `head`, the chain file, says (None: not checked)."""
    result = Verification(anchored=anchor is not None)
    lines: list[_Line] = []
    for path in files:
        try:
            lines.extend(_lines(path))
        except _UNREADABLE as exc:  # a damaged or unreadable file, a cut-off .gz
            result.problem = f"{path.name} cannot be read to its end ({exc}): its records are not checked"
            return result
    torn = _walk(result, lines)
    if result.problem is not None:
        return result
    _check_start(result, lines)
    _check_end(result, head, torn)
    if anchor is not None:
        _check_anchor(result, lines, anchor, head)
    return result


_UNREADABLE = (OSError, EOFError, zlib.error)


def _lines(path: Path) -> Iterator[_Line]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\n")
            if raw.strip():
                yield _line(path.name, number, raw)


def _line(file: str, number: int, raw: bytes) -> _Line:
    try:
        value = json.loads(raw)
    except ValueError:  # UnicodeDecodeError included: a write cut inside a multi-byte character
        return _Line(file, number, raw, None, None, None, None, torn=True)
    record: dict[str, Any] = value if isinstance(value, dict) else {}
    digest, seq, prev, event = sealed_hash(raw), record.get("seq"), record.get("prev"), record.get("event")
    link = Head(seq, digest) if digest is not None and isinstance(seq, int) else None
    return _Line(file, number, raw, link, prev if isinstance(prev, str) else None,
                 event if isinstance(event, str) else None, repairs.sealed(record), torn=False)


def _walk(result: Verification, lines: list[_Line]) -> list[_Line]:
    """Check every link; returns the torn lines after the last record (not yet sealed)."""
    seqs = {line.link.seq for line in lines if line.link is not None}
    expected: _Line | None = None
    torn: list[_Line] = []
    for line in lines:
        if line.link is None:
            if line.torn:
                torn.append(line)
            elif expected is None and not _claims_a_place(line.raw):
                result.notes.append(f"{line.where} is not part of the chain (written before it began); "
                                    "not checked")
            else:
                result.problem = _damaged(line)
                return torn
            continue
        result.problem = _broken_link(line, expected, seqs, torn)
        if result.problem is not None:
            return torn
        if torn:
            result.problem = _account_for_torn(result, torn, line, expected)
            if result.problem is not None:
                return torn
            torn = []
        if line.event == repairs.CHAIN_FILE:
            result.unproven.append(f"the end of the log before record {line.link.seq} ({line.where}): zbmcp "
                                   "found its chain file missing or damaged then, and went on from the last "
                                   "record in the log, so records cut off before it would have gone unseen")
        if expected is None:
            result.first_seq = line.link.seq
        expected = line
        result.records += 1
        result.last_seq, result.last_hash = line.link.seq, line.link.hash
    return torn


def _broken_link(line: _Line, expected: _Line | None, seqs: set[int], torn: list[_Line]) -> str | None:
    assert line.link is not None
    if expected is None:
        if line.link.seq == 1 and line.prev != GENESIS:
            return (f"record 1 ({line.where}) does not start a chain (its prev is not the start's): "
                    "the records were renumbered")
        return None
    assert expected.link is not None
    last = expected.link.seq
    if line.link.seq != last + 1:
        between = f"; {_where(torn)} between them {'are' if len(torn) > 1 else 'is'} no whole record" \
            if torn else ""
        return _out_of_place(line, last, seqs, expected) + between
    if line.prev != expected.link.hash:
        return (f"record {last} ({expected.where}) was edited and re-hashed: record {line.link.seq} "
                f"({line.where}) was chained to a different version of it")
    return None


def _account_for_torn(result: Verification, torn: list[_Line], after: _Line,
                      before: _Line | None) -> str | None:
    """Torn lines followed by a record: sealed by it, or (by a zbmcp from before seals) not. A seal that names
    other bytes is the problem returned: the torn lines were changed since."""
    assert after.link is not None
    many = len(torn) > 1
    if after.seals == repairs.digest([line.raw for line in torn]):
        result.notes.append(f"{_where(torn)} {'were' if many else 'was'} torn (a write cut off midway, e.g. "
                            f"by a full disk) and {'are' if many else 'is'} sealed by record "
                            f"{after.link.seq} ({after.where}): not a record, not tampering")
    elif after.seals is not None:
        return (f"{_where(torn)} {'are' if many else 'is'} not the torn {'lines' if many else 'line'} record "
                f"{after.link.seq} ({after.where}) sealed: {'they were' if many else 'it was'} changed since")
    else:
        around = f"; no record is missing around {'them' if many else 'it'} (record {after.link.seq} " \
                 f"follows {after.link.seq - 1})" if before is not None else ""
        result.unproven.append(f"{_where(torn)}: not a whole record, and no record seals "
                               f"{'them' if many else 'it'} (a write cut off midway by a zbmcp from before "
                               f"torn lines were sealed, or a line added by hand){around}")
    return None


def _where(lines: list[_Line]) -> str:
    if len(lines) == 1:
        return lines[0].where
    if len(lines) > 3:  # torn lines follow one another (blank ones aside): a range says where, briefly
        return f"{lines[0].file} lines {lines[0].number} to {lines[-1].number}"
    return f"{lines[0].file} lines {', '.join(str(line.number) for line in lines)}"


def _claims_a_place(raw: bytes) -> bool:
    """Whether a line that does not verify at least looks like a chained record (so it was edited)."""
    return b'"hash"' in raw or b'"seq"' in raw or b'"prev"' in raw


def _damaged(line: _Line) -> str:
    record = json.loads(line.raw)  # whole JSON (a torn line is no damage), but not a sealed record
    seq = record.get("seq") if isinstance(record, dict) else None
    if isinstance(seq, int):
        return f"record {seq} ({line.where}) was edited: its content no longer matches its hash"
    return f"{line.where} was inserted into the chain: it carries no seq and hash"


def _out_of_place(line: _Line, last: int, seqs: set[int], previous: _Line) -> str:
    assert line.link is not None
    seq, missing = line.link.seq, last + 1
    after = f"after record {last} ({previous.where})"
    if seq <= last:
        return f"records out of order: record {seq} ({line.where}) comes {after}"
    if missing in seqs:
        return f"records out of order: record {seq} ({line.where}) comes {after}, before record {missing}"
    gap = f"record {missing} was" if seq == missing + 1 else f"records {missing} to {seq - 1} were"
    text = f"{gap} removed: the chain jumps from record {last} ({previous.where}) to {seq} ({line.where})"
    if line.file != previous.file and line.number == 1:
        text += f": a rotated file between {previous.file} and {line.file} is missing"
    return text


def _check_start(result: Verification, lines: list[_Line]) -> None:
    if result.first_seq is None or result.first_seq == 1:
        return
    first = next(line for line in lines if line.link is not None)
    gone = "record 1 is" if result.first_seq == 2 else f"records 1 to {result.first_seq - 1} are"
    result.missing.append(f"{gone} gone: the chain starts at record {result.first_seq} ({first.where}); "
                          "the oldest rotated file, or the first records of the log, were removed (to check "
                          "them, give their files too)")


def _check_end(result: Verification, head_file: Path | None, torn: list[_Line]) -> None:
    """The chain file remembers the last record written: a log that ends earlier lost its end."""
    last = result.last_seq or 0
    if head_file is None:
        if result.records:
            result.unproven.append(f"the end: no chain file was read, so records cut off after record {last} "
                                   "would go unseen (`zbmcp audit verify` without FILE arguments checks the "
                                   "configured log's end)")
        return _note_torn_end(result, torn)
    try:
        raw = head_file.read_bytes()
    except FileNotFoundError:
        if result.records:
            result.missing.append(f"{head_file.name}, the chain file zbmcp keeps beside the log, is gone: "
                                  f"records cut off after record {last} would go unseen")
        else:
            result.unproven.append("that no record was ever written: there is no audit log and no chain "
                                   f"file ({head_file.name}), which is also how a log deleted with its chain "
                                   "file looks; with an anchor (--anchor SEQ:HASH, a head printed by an "
                                   "earlier verify) that is a failure")
        return _note_torn_end(result, torn)
    except OSError as exc:
        raw, state = b"?", f"unreadable ({exc.strerror})"
    else:
        state = "damaged"
    head = Head(0, GENESIS) if not raw.strip() else parse_head(raw)
    if head is None:
        result.missing.append(f"{head_file.name}, the chain file, is {state}: records cut off after record "
                              f"{last} would go unseen")
        return _note_torn_end(result, torn)
    left = f" ({_where(torn)}, what is left of it, is no whole record)" \
        if torn and head.seq == last + 1 else ""
    if head.seq > last and not result.records:
        result.problem = (f"the audit log is gone: zbmcp wrote records 1 to {head.seq} (per "
                          f"{head_file.name}), and no audit file holds any of them")
    elif head.seq > last:
        cut = f"record {head.seq} was" if head.seq == last + 1 else f"records {last + 1} to {head.seq} were"
        result.problem = (f"the log ends at record {last}, but zbmcp last wrote record {head.seq} (per "
                          f"{head_file.name}): {cut} removed from the end{left}")
    elif head.seq == last and result.last_hash is not None and head.hash != result.last_hash:
        result.problem = f"record {last}, the last one, is not the record zbmcp wrote (per {head_file.name})"
    else:
        _note_torn_end(result, torn)


def _note_torn_end(result: Verification, torn: list[_Line]) -> None:
    if torn:
        result.notes.append(f"{_where(torn)}, at the end, {'are' if len(torn) > 1 else 'is'} torn: a write "
                            "cut off midway (a full disk, a power cut) left part of a record, not tampering; "
                            "zbmcp seals it with a record that says so when it next starts or writes")


def _check_anchor(result: Verification, lines: list[_Line], anchor: tuple[int, str],
                  head_file: Path | None) -> None:
    seq, digest = anchor
    if result.problem is not None:
        return
    for line in lines:
        if line.link is not None and line.link.seq == seq:
            if line.link.hash != digest:
                result.problem = (f"record {seq} ({line.where}) is not the one anchored: the log was "
                                  "rewritten from there on (or the anchor is wrong)")
            return
    if result.first_seq is not None and seq < result.first_seq:
        result.problem = (f"the anchored record {seq} is gone: the chain now starts at record "
                          f"{result.first_seq}")
    elif not result.records:
        gone = f", and the chain file {head_file.name} is gone too" \
            if head_file is not None and not head_file.exists() else ""
        result.problem = f"the anchored record {seq} is missing: no audit file holds any record{gone}"
    else:
        result.problem = (f"the anchored record {seq} is missing: the log was cut short (it ends at "
                          f"{result.last_seq})")
