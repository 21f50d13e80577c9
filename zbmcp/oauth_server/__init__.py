"""zbmcp as an OAuth 2.1 authorization server and resource server for remote MCP clients (docs/connectors.md).

    edge.py        the HTTP routes and the resource-server checks, assembled from a Runtime
    provider.py    the MCP SDK's provider interface: clients, codes, tokens
    signin.py      the person's part: Zoho sign-in, consent, enrollment links (pages.py draws them)
    tokens.py      codes, access tokens, rotating refresh tokens, families and revocation (hashed at rest)
    clients.py     registered clients (RFC 7591) and Client ID Metadata Documents (cimd.py)
    people.py      which agents a Zoho user may act as
    personal.py    `connection: per_user`: each person's own Zoho token
    resource.py    which bearer tokens open /mcp, and the 401/403 challenges
    scopes.py      books:read and books:write
    store.py       where all of it is kept
"""
