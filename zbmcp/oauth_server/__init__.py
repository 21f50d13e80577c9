"""zbmcp as an OAuth 2.1 authorization server and resource server for remote MCP clients (docs/connectors.md).

    edge.py        the HTTP routes and the resource-server checks, assembled from a Runtime
    doors.py       what strangers can make /register and /authorize keep: sizes and rates, in the State
    provider.py    the MCP SDK's provider interface: clients, codes, tokens
    signin.py      the person's part: Zoho sign-in, consent, enrollment links (pages.py draws them)
    enrollment.py  one-time enrollment links, bound to the State's epoch; admin.py: `zbmcp oauth ...`
    tokens.py      codes, access tokens, rotating refresh tokens, families and revocation (hashed at rest)
    clients.py     registered clients (RFC 7591), unused or in use, and Client ID Metadata Documents (cimd.py)
    people.py      which agents a Zoho user may act as
    resource.py    which bearer tokens open /mcp, and the 401/403 challenges
    scopes.py      books:read and books:write
    records.py     where all of it is kept: the shared State
"""
