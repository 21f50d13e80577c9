"""zbmcp: least-privilege, audited MCP access to Zoho Books."""

__version__ = "0.1.0"
