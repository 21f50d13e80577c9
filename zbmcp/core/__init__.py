"""The pure core: config, tool manifests, policy and its rules, facts, questions, requests and result shaping.

Nothing here does IO, reads the clock or imports the MCP SDK, an HTTP stack or the State: callers pass file
contents and "today" in (docs/architecture.md).
"""
