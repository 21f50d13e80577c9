"""One tool call from arrival to answer: decide, approve, write ahead, send, record (docs/architecture.md)."""
