"""Every error zbmcp raises on purpose, as one small tree.

    ZbmcpError                      anything zbmcp reports to a person or an agent
     ├── ConfigError                the config file or a manifest is wrong (file, line, fix)
     ├── PolicyDenied               the agent may not do this (which rule refused it)
     ├── ApprovalRefused            a person declined, or could not be asked
     ├── InvalidArguments           a tool call's arguments are malformed (which field, what fix)
     ├── AuthError                  no usable Zoho token (what to run to fix it)
     ├── AuditUnavailable           the audit record could not be written, so nothing was sent
     └── ZohoApiError               Zoho answered with an error (status, code, message)
          ├── RateLimited           a limit was hit, ours or Zoho's (retry_after seconds)
          ├── ZohoUnreachable       no connection to Zoho could be made, so this attempt sent nothing
          └── OutcomeUnknown        a write may or may not have taken effect (how to check)

Each one becomes a clear tool error or CLI message at the edge; none carries a secret.
"""

from __future__ import annotations


class ZbmcpError(Exception):
    """Base class: the message is meant for the person or agent who made the call."""


class ConfigError(ZbmcpError):
    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(where + message)


class PolicyDenied(ZbmcpError):
    def __init__(self, message: str, *, rule: str) -> None:
        self.rule = rule
        super().__init__(message)


class ApprovalRefused(ZbmcpError):
    def __init__(self, message: str, *, rule: str) -> None:
        self.rule = rule
        super().__init__(message)


class InvalidArguments(ZbmcpError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        """problems: (field path, what is wrong and how to fix it), one per field."""
        self.problems = problems
        self.fields = [field for field, _ in problems]
        text = "; ".join(f"{field}: {what}" for field, what in problems)
        super().__init__(f"Invalid arguments - {text}. Nothing was sent to Zoho.")


class AuthError(ZbmcpError):
    pass


class AuditUnavailable(ZbmcpError):
    pass


class ZohoApiError(ZbmcpError):
    def __init__(self, message: str, *, status: int | None, code: int | None,
                 zoho_message: str | None) -> None:
        self.status = status
        self.code = code
        self.zoho_message = zoho_message
        super().__init__(message)


class RateLimited(ZohoApiError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int | None = 429,
        code: int | None = None,
        zoho_message: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, code=code, zoho_message=zoho_message)


class ZohoUnreachable(ZohoApiError):
    pass


class OutcomeUnknown(ZohoApiError):
    pass
