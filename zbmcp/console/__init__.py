"""The operator's web console: sign-in, the approval inbox, the access matrix and the audit viewer.

An edge, like a transport: mounted at /console by the HTTP app (or served alone by `zbmcp console`), it calls
the policy, the inbox and the audit log through their public functions and keeps no rules of its own.
"""

from zbmcp.console.app import ConsoleApp
from zbmcp.console.pages import PREFIX

__all__ = ["PREFIX", "ConsoleApp"]
