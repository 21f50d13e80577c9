"""The pages a person sees while connecting an MCP client: consent, enrollment, and what went wrong.

Every value is escaped; every page forbids framing (a consent button inside someone else's page is a
clickjacking trap), is not cached, and sends no Referer onwards.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.responses import HTMLResponse

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.45;
color:#222}
h1{font-size:1.4rem} .who{color:#555} .warn{background:#fff4e5;border:1px solid #f0b04f;padding:.5rem .75rem}
ul.tools{columns:2} code{background:#f2f2f2;padding:0 .2rem}
button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}
fieldset{border:1px solid #ddd;margin:1rem 0} .error{color:#a00}
"""

HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    document = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def message(title: str, text: str, *, status: int = 400, link: tuple[str, str] | None = None) -> HTMLResponse:
    """A page that explains; `link` (label, URL) is the way back, e.g. to the app with an error."""
    back = f'<p><a href="{esc(link[1])}">{esc(link[0])}</a></p>' if link else ""
    return page(title, f"<h1>{esc(title)}</h1><p>{esc(text)}</p>{back}", status=status)


@dataclass(frozen=True)
class ToolLine:
    name: str
    title: str
    writes: bool


@dataclass(frozen=True)
class ConsentView:
    consent_id: str
    client_name: str
    client_note: str  # how far the name can be trusted
    redirect_host: str
    loopback_redirect: bool
    person: str  # "Alice Accountant (alice@example.com)"
    agents: Sequence[str]
    tools: dict[str, list[ToolLine]]  # agent -> its tools
    organizations: dict[str, list[str]]  # agent -> organization ids
    writes_requested: bool


def consent(view: ConsentView) -> HTMLResponse:
    choices = []
    for index, agent in enumerate(view.agents):
        reads = [t for t in view.tools[agent] if not t.writes]
        writes = [t for t in view.tools[agent] if t.writes]
        radio = (f'<input type="radio" name="agent" value="{esc(agent)}" id="agent-{index}"'
                 f'{" checked" if index == 0 else ""}>' if len(view.agents) > 1 else
                 f'<input type="hidden" name="agent" value="{esc(agent)}">')
        tool_items = "".join(f"<li><code>{esc(t.name)}</code> {esc(t.title)}</li>" for t in reads)
        write_items = "".join(f"<li><code>{esc(t.name)}</code> {esc(t.title)}</li>" for t in writes)
        write_part = ""
        if writes and view.writes_requested:
            write_part = (f"<p>And, if you allow changes below, it may change your books:</p>"
                          f'<ul class="tools" data-kind="writes">{write_items}</ul>')
        elif writes:
            write_part = (f"<p>Not asked for now: {len(writes)} tools that change your books (the "
                          "app must ask again before it may use them).</p>")
        choices.append(
            f'<fieldset data-agent="{esc(agent)}"><legend>{radio} <label for="agent-{index}">'
            f'Agent <strong>{esc(agent)}</strong></label></legend>'
            f"<p>Organizations: {esc(', '.join(view.organizations[agent]))}</p>"
            '<p>It may read:</p><ul class="tools" '
            f'data-kind="reads">{tool_items}</ul>{write_part}</fieldset>')
    loopback = ""
    if view.loopback_redirect:
        loopback = ('<p class="warn">The app receives the answer on this computer (<code>'
                    f"{esc(view.redirect_host)}</code>). Only continue if you started this from an app you "
                    "trust on this computer.</p>")
    writes_box = ""
    if view.writes_requested:
        writes_box = ('<p><label><input type="checkbox" name="allow_writes" value="yes" checked> '
                      "Also allow changes: creating, updating, deleting and emailing records</label></p>")
    body = f"""
<h1>Connect {esc(view.client_name)} to Zoho Books</h1>
<p class="who">Signed in with Zoho as {esc(view.person)}.</p>
<p><strong>{esc(view.client_name)}</strong> ({esc(view.client_note)}) wants to use zbmcp on your behalf.
It will receive access at <code>{esc(view.redirect_host)}</code>.</p>
{loopback}
<form method="post" action="/oauth/consent">
<input type="hidden" name="consent" value="{esc(view.consent_id)}">
{''.join(choices)}
{writes_box}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="who">Everything the app does is recorded in zbmcp's audit log under your name.</p>"""
    return page(f"Connect {view.client_name} to Zoho Books", body)


def enroll_start(token: str, browser: str, agent: str, email: str | None) -> HTMLResponse:
    only = f" This link is for {esc(email)} only." if email else ""
    body = f"""
<h1>Use zbmcp as agent {esc(agent)}</h1>
<p>Your zbmcp operator invites you to use Zoho Books through AI apps as agent <strong>{esc(agent)}</strong>.
Sign in with your Zoho account to accept.{only} The link works once.</p>
<form method="post" action="/oauth/enroll">
<input type="hidden" name="t" value="{esc(token)}">
<input type="hidden" name="b" value="{esc(browser)}">
<button type="submit">Sign in with Zoho</button>
</form>"""
    return page(f"Use zbmcp as agent {agent}", body)


def enrolled(agent: str, person: str, connector_url: str) -> HTMLResponse:
    body = f"""
<h1>You can now use zbmcp as agent {esc(agent)}</h1>
<p class="who">Signed in with Zoho as {esc(person)}.</p>
<p>Add zbmcp to your AI app as a remote MCP server (a "custom connector") with this URL:</p>
<p><code>{esc(connector_url)}</code></p>
<p>The app will send you to Zoho to sign in, then ask you to allow it.</p>"""
    return page("Enrolled in zbmcp", body)
