"""How agents reach zbmcp: stdio, Streamable HTTP and SSE, and who is calling (key, OAuth token, loopback)."""
