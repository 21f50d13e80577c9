"""ZohoError: an error the sandbox answers with, in Zoho's envelope `{"code": <n>, "message": "..."}`.

Codes the sandbox uses (zoho-books-api.md §6), and where the number is the sandbox's own pick:

    2      400  invalid value: type errors, unknown references, bad filter values, missing organization_id
    4      400  missing required field; malformed body ("Invalid value passed for JSONString")
    5      404  unknown URL ("Invalid URL Passed")
    14     401  missing or unusable Authorization header
    57     401  unknown, expired or revoked token; token without the endpoint's scope
    1000   500  internal error (also the injected 500 fault)
    1001   400  duplicate document number or name ("... already exist")
    1002   404  unknown id ("<Thing> does not exist.")
    3000   400  deleting a contact that has transactions (Zoho Invoice's code, as are 3004, 3010, 4001, 24016;
                Books' own are unverified)
    3004   400  a payment names an invoice of another customer (a vendor payment, a bill of another vendor)
    3010   400  changing the customer of an invoice that has payments
    4001   400  deleting an invoice that has payments
    6041   400  organization_id the caller is not associated with
    24016  400  a payment applies more than an invoice's (or a bill's) balance
    44/45/1070  429  per-window, daily and concurrency limits (§7)
    9998   400  an operation the sandbox does not emulate (yet), saying why (the sandbox's own code)
    9999   400  a business rule with no documented Zoho code (docs/sandbox.md lists them)
"""

from __future__ import annotations


class ZohoError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} code {code}: {message}")

    def envelope(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


def invalid_value(field: str) -> ZohoError:
    return ZohoError(400, 2, f"Invalid value passed for {field}")


def required(field: str) -> ZohoError:
    # Zoho's exact wording for a missing field is unverified (§6); naming the field is what matters.
    return ZohoError(400, 4, f"{field} is required.")


def not_found(thing: str) -> ZohoError:
    # §9.9: HTTP 404 for 1002 is the usual choice in fakes; Zoho's own status is unverified.
    return ZohoError(404, 1002, f"{thing} does not exist.")


def already_exists(what: str) -> ZohoError:
    """§9.7: "Invoice Number already exist" (sic); the same code for any duplicate number or name."""
    return ZohoError(400, 1001, f"{what} already exist")


def not_associated(organization_id: str) -> ZohoError:
    """§1: the same answer whether the organization is someone else's or does not exist."""
    return ZohoError(400, 6041,
                     f"This user is not associated with the CompanyID/CompanyName:{organization_id}.")


def rule(message: str) -> ZohoError:
    return ZohoError(400, 9999, message)


MALFORMED_BODY = ZohoError(400, 4, "Invalid value passed for JSONString")
UNKNOWN_URL = ZohoError(404, 5, "Invalid URL Passed")
NOT_AUTHENTICATED = ZohoError(
    401,
    14,
    "The request could not be authenticated as the authentication value you entered is invalid.",
)
NOT_AUTHORIZED = ZohoError(401, 57, "You are not authorized to perform this operation")
INTERNAL = ZohoError(500, 1000, "Internal error")


def method_not_allowed(method: str) -> ZohoError:
    return ZohoError(405, 37, f"The HTTP method {method} is not allowed for the requested resource")
