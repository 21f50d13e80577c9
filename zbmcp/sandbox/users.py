"""Zoho Accounts people: who can sign in to the sandbox, with which password, and which
organizations they reach.

    700000000000001  Sam Sandbox       sam@sandbox-trading.example      owns 10234695 and 10234696
                                                                        (the default user)
    700000000000002  Nora Nordwind     nora@nordwind.example            owns 20987654
    700000000000003  Alice Accountant  alice@sandbox-trading.example    a user of 10234695
    700000000000004  Mallory Outsider  mallory@outsider.example         no organization at all

Every sandbox user's password is "sandbox": nothing here is real. A browser that signed in once
carries a session cookie, and Zoho then lets it through the sign-in page without asking again, as
the real accounts server does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from zbmcp.sandbox.seed import DEFAULT_USER_ID, OTHER_USER_ID

PASSWORD = "sandbox"
SESSION_COOKIE = "zbmcp_sandbox_session"
ALICE_USER_ID = "700000000000003"
MALLORY_USER_ID = "700000000000004"


@dataclass(frozen=True)
class User:
    user_id: str  # Zoho's ZUID
    email: str
    first_name: str
    last_name: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name}{self.last_name}"  # Zoho's Display_Name is the login name, no space

    def user_info(self) -> dict[str, object]:
        """The body of GET /oauth/user/info (AaaServer.profile.READ): Zoho's capitalised
        keys, ZUID a number."""
        return {"First_Name": self.first_name, "Email": self.email, "Last_Name": self.last_name,
                "Display_Name": self.display_name, "ZUID": int(self.user_id)}


SEEDED = (
    (User(DEFAULT_USER_ID, "sam@sandbox-trading.example", "Sam", "Sandbox"), ()),
    (User(OTHER_USER_ID, "nora@nordwind.example", "Nora", "Nordwind"), ()),
    (User(ALICE_USER_ID, "alice@sandbox-trading.example", "Alice", "Accountant"), ("10234695",)),
    (User(MALLORY_USER_ID, "mallory@outsider.example", "Mallory", "Outsider"), ()),
)


class Directory:
    """The accounts server's users, their memberships in organizations they do not
    own, and browser sessions."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._memberships: dict[str, set[str]] = {}
        self._sessions: dict[str, str] = {}  # session cookie -> user id
        for user, organizations in SEEDED:
            self.add(user, organizations)

    def add(self, user: User, organizations: tuple[str, ...] | list[str] = ()) -> User:
        self.users[user.user_id] = user
        self._memberships[user.user_id] = set(organizations)
        return user

    def memberships(self, user_id: str) -> set[str]:
        return self._memberships.get(user_id, set())

    def by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((user for user in self.users.values() if user.email.lower() == wanted), None)

    def check_password(self, email: str, password: str) -> User | None:
        user = self.by_email(email)
        if user is None or not secrets.compare_digest(password.encode(), PASSWORD.encode()):
            return None
        return user

    def open_session(self, user: User) -> str:
        session = secrets.token_urlsafe(24)
        self._sessions[session] = user.user_id
        return session

    def session_user(self, session: str | None) -> User | None:
        user_id = self._sessions.get(session or "")
        return self.users.get(user_id) if user_id else None
