"""The voting page of the serverless voting app: Cats or Dogs, one vote per browser.

    GET  /   the page; a browser without a `voter_id` cookie gets one (random hex, a year long)
    POST /   a vote: form-urlencoded `vote=a|b` (what the page's buttons send) or JSON
             {"vote": "a"}, each with an optional `ballot` id

A vote is not stored here: it is queued as a `record-vote` task through the gateway's async API,
`POST $FAAS_GATEWAY_URL/async-function/record-vote` with {"voter_id", "vote", "ts"}, and
answered at once: the page again (form) or 202 {"queued": true, "call_id": ...} (JSON). If the
gateway cannot be reached or refuses the task, the answer is a 503 that says so.

Every rendering of the page carries a fresh random ballot id in a hidden field, and the task is
queued with `Idempotency-Key: <voter_id>:<ballot>`: the same form submitted twice (a double
click, a reload that re-posts) queues one task. A POST without a ballot gets a new one.

Standard library only, so the image has no dependencies. Needs `network: true`.
OPTION_A / OPTION_B rename the two options (default Cats and Dogs), as in the original app.
"""

import html
import json
import os
import re
import secrets
import time
from urllib.parse import parse_qs

COOKIE = "voter_id"
COOKIE_ATTRIBUTES = "Path=/; Max-Age=31536000; SameSite=Lax"
TASK = "record-vote"
# Voter and ballot ids end up in a header and in Redis keys' fields: keep them plain.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Without JavaScript the results link cannot see the URL the page was served at; this is where
# the gateway serves the result function. The page's script replaces it with the sibling of
# the current URL (which also works behind a proxy that adds a path prefix).
RESULTS_HREF = "/function/result"
GATEWAY_TIMEOUT_S = 5.0


class BadRequest(Exception):
    """The request cannot be a vote: 400."""


class Unavailable(Exception):
    """The vote could not be queued: 503."""


def handle(event, context):
    if event.path not in ("", "/"):
        return _error(404, "not_found", f"nothing at {event.path}: the voting page is at /")
    voter_id = _cookie(event.headers, COOKIE)
    new_voter = voter_id is None or not ID_PATTERN.fullmatch(voter_id)
    if new_voter:
        voter_id = secrets.token_hex(8)  # 64 random bits, as the original app's cookie

    method = event.method.upper()
    if method in ("GET", "HEAD"):
        response = _page_response(200, context, voter_id)
    elif method == "POST":
        response = _vote(event, context, voter_id)
    else:
        response = _error(405, "method_not_allowed", f"{method} is not allowed: use GET or POST")
        response["headers"]["Allow"] = "GET, HEAD, POST"
    if new_voter:
        response["headers"]["Set-Cookie"] = f"{COOKIE}={voter_id}; {COOKIE_ATTRIBUTES}"
    return response


def options():
    """{"a": label, "b": label}, from OPTION_A / OPTION_B."""
    return {"a": os.environ.get("OPTION_A", "Cats"), "b": os.environ.get("OPTION_B", "Dogs")}


# --- POST: validate, queue, answer --------------------------------------------------------


def _vote(event, context, voter_id):
    labels = options()
    try:
        fields, as_json = _read_fields(event)
        vote = fields.get("vote")
        if not isinstance(vote, str) or vote not in labels:
            choices = " or ".join(f'"{key}" ({label})' for key, label in labels.items())
            raise BadRequest(f"vote must be {choices}, got {vote!r}")
        ballot = fields.get("ballot") or secrets.token_hex(8)
        if not isinstance(ballot, str) or not ID_PATTERN.fullmatch(ballot):
            raise BadRequest(f"ballot must be 1-64 letters, digits, '-' or '_', got {ballot!r}")
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))

    task = {"voter_id": voter_id, "vote": vote, "ts": time.time_ns() // 1_000_000}
    try:
        call_id = enqueue(task, f"{voter_id}:{ballot}", _timeout_s(context))
    except Unavailable as exc:
        if as_json:
            return _error(503, "unavailable", str(exc))
        # Same ballot: trying again cannot queue the vote twice if it did get through.
        error = f"Sorry, your vote could not be recorded: {exc}. Please try again."
        return _page_response(503, context, voter_id, ballot=ballot, error=error)

    if as_json:
        body = {"queued": True, "call_id": call_id, "vote": vote, "voter_id": voter_id}
        return {"statusCode": 202, "headers": _no_store(), "body": body}
    notice = f"Thanks, your vote for {labels[vote]} is being recorded"
    return _page_response(200, context, voter_id, picked=vote, notice=notice)


def _read_fields(event):
    """(fields, is_json) from a JSON or form-urlencoded body; raises BadRequest."""
    content_type = event.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = event.json()
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise BadRequest('the JSON body must be an object like {"vote": "a"}')
        return data, True
    try:
        form = parse_qs(event.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("the form body is not valid UTF-8") from None
    return {name: values[-1] for name, values in form.items()}, False


def enqueue(task, idempotency_key, timeout):
    """Queue a record-vote call through the gateway; returns its call id. Raises Unavailable."""
    base = os.environ.get("FAAS_GATEWAY_URL", "").rstrip("/")
    if not base:
        raise Unavailable("FAAS_GATEWAY_URL is not set (deploy vote with `network: true`)")
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    try:
        status, body = post(f"{base}/async-function/{TASK}", json.dumps(task), headers, timeout)
    except ValueError as exc:  # urllib's answer to a malformed URL
        raise Unavailable(f"FAAS_GATEWAY_URL={base!r} is not a usable URL ({exc})") from None
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Unavailable(f"the gateway at {base} cannot be reached ({reason})") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status == 422 and _error_code(answer) == "idempotency_conflict":
        # This ballot was queued already, by an attempt whose answer got lost (a gateway died
        # mid-request); the retry differs only in its timestamp. The vote is in: one, not two.
        return None
    if not 200 <= status < 300:
        message = _error_message(answer) or body[:200].decode("utf-8", "replace").strip()
        raise Unavailable(f"the gateway answered {status}: {message or 'no details'}")
    return answer.get("call_id") if isinstance(answer, dict) else None


def post(url, data, headers, timeout):
    """POST `data` (str) to `url`; returns (status, body bytes) for any HTTP answer.

    Raises OSError when there is no HTTP answer. urllib is imported here, not at the top, to keep
    it off the cold start of GET (the page). No proxy: the gateway is on the function's network.
    """
    import http.client
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data.encode(), headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except http.client.HTTPException as exc:  # a broken answer; not an OSError
        raise OSError(f"bad HTTP answer: {exc!r}") from exc


def _error_code(answer):
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return answer["error"].get("code")
    return None


def _error_message(answer):
    """The message of a project-style {"error": {"code", "message"}} body, if it is one."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return answer["error"].get("message")
    return None


def _timeout_s(context):
    remaining = context.remaining_ms() / 1000.0 - 0.5  # leave time to answer
    return max(0.2, min(GATEWAY_TIMEOUT_S, remaining))


# --- Responses ----------------------------------------------------------------------------


def _cookie(headers, name):
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip().strip('"')
    return None


def _no_store():
    # The page holds a one-time ballot id: never serve it from a cache or the back/forward cache.
    return {"Cache-Control": "no-store"}


def _error(status, code, message):
    body = {"error": {"code": code, "message": message}}
    return {"statusCode": status, "headers": _no_store(), "body": body}


def _page_response(status, context, voter_id, *, ballot=None, picked=None, notice="", error=""):
    page = render_page(
        options(),
        ballot=ballot or secrets.token_hex(8),
        picked=picked,
        notice=error or notice,
        is_error=bool(error),
        served_by=_served_by(context),
    )
    headers = {**_no_store(), "Content-Type": "text/html; charset=utf-8"}
    return {"statusCode": status, "headers": headers, "body": page}


def _served_by(context):
    # How this page was served, never by which container: its id is nobody's business.
    return "served by a cold start" if getattr(context, "cold", False) else "served warm"


# Inline SVG, not emoji: an emoji needs a colour-emoji font, which many systems lack (Debian's
# Chromium without fonts-noto-color-emoji draws an empty box). Stroked in the text colour.
_SVG = (
    '<svg viewBox="0 0 48 48" width="48" height="48" fill="none" stroke="currentColor" '
    'stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" '
    'focusable="false">{}</svg>'
)
ICONS = {
    "cats": _SVG.format(
        '<path d="M10 20V7l9 8h10l9-8v13"/><path d="M10 20c0 11 6 19 14 19s14-8 14-19"/>'
        '<circle cx="18" cy="24" r="1.6" fill="currentColor"/>'
        '<circle cx="30" cy="24" r="1.6" fill="currentColor"/>'
        '<path d="M22 30h4l-2 2.5z"/><path d="M4 27l9 1M4 33l9-2M44 27l-9 1M44 33l-9-2"/>'
    ),
    "dogs": _SVG.format(
        '<path d="M14 12c-6 0-9 6-9 13 0 4 3 5 6 3l3-6"/>'
        '<path d="M34 12c6 0 9 6 9 13 0 4-3 5-6 3l-3-6"/>'
        '<path d="M14 12h20c2 9 3 14 3 18 0 6-6 10-13 10s-13-4-13-10c0-4 1-9 3-18z"/>'
        '<circle cx="19" cy="23" r="1.6" fill="currentColor"/>'
        '<circle cx="29" cy="23" r="1.6" fill="currentColor"/>'
        '<path d="M21 31h6l-3 3z"/><path d="M24 34v2"/>'
    ),
}

CSS = """
:root{--a:#1d4ed8;--b:#c2410c;--bg:#f3f4f6;--card:#fff;--text:#1f2328;--muted:#59636e;
--line:#d1d9e0;--ok:rgba(26,127,55,.12);--bad:rgba(207,34,46,.14);color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;
--muted:#9198a1;--line:#3d444d;--ok:rgba(63,185,80,.18);--bad:rgba(248,81,73,.2)}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;min-height:100dvh;display:flex;align-items:center;
justify-content:center;padding:1rem;background:var(--bg);color:var(--text);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:34rem;background:var(--card);border:1px solid var(--line);
border-radius:1rem;padding:clamp(1.25rem,5vw,2.5rem);box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{margin:0 0 .25rem;font-size:clamp(1.6rem,6vw,2.2rem);line-height:1.2;text-align:center}
.lead{margin:0 0 1.5rem;color:var(--muted);text-align:center}
.notice{margin:1.25rem 0 0;padding:.75rem 1rem;border-radius:.5rem;background:var(--ok)}
.notice.error{background:var(--bad)}
.notice:empty{display:none}
.foot{margin-top:1.5rem;display:flex;flex-wrap:wrap;justify-content:space-between;
align-items:center;gap:.5rem 1rem;color:var(--muted);font-size:.875rem}
.foot a{color:var(--text);font-weight:600;font-size:1rem;padding:.5rem 0;text-underline-offset:3px}
a:focus-visible,button:focus-visible{outline:3px solid var(--text);outline-offset:3px}
@media (prefers-reduced-motion:reduce){*{transition:none!important}}
@media (max-width:40rem){body{align-items:flex-start;padding:.75rem}
main{border-radius:.75rem}}
"""

VOTE_CSS = """
.choices{display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin:0}
@media (max-width:22rem){.choices{grid-template-columns:1fr}}
.choice{display:flex;flex-direction:column;align-items:center;justify-content:center;gap:.25rem;
min-height:8rem;padding:1rem;border:0;border-radius:.75rem;color:#fff;font:inherit;
font-size:1.375rem;font-weight:700;cursor:pointer;touch-action:manipulation;
transition:transform .1s,box-shadow .15s,filter .15s}
.choice.a{background:var(--a)}.choice.b{background:var(--b)}
.choice:hover{filter:brightness(1.1)}.choice:active{transform:scale(.97)}
.choice:disabled{cursor:progress;filter:saturate(.6)}
.choice .icon svg{display:block;width:3rem;height:3rem}
.choice .mark{font-size:.8rem;font-weight:600;visibility:hidden}
.choice[aria-pressed=true] .mark{visibility:visible}
.choice.a[aria-pressed=true]{box-shadow:0 0 0 3px var(--card),0 0 0 6px var(--a)}
.choice.b[aria-pressed=true]{box-shadow:0 0 0 3px var(--card),0 0 0 6px var(--b)}
"""

# Progressive enhancement: vote without reloading the page, keep the results link right
# wherever the page is served, and never reuse a ballot id for a second vote.
SCRIPT = """
(() => {
  const form = document.getElementById('ballot-form');
  const status = document.getElementById('status');
  const buttons = [...form.querySelectorAll('button[name=vote]')];
  const root = location.pathname.replace(/\\/+$/, '');
  document.getElementById('results-link').href = root.replace(/[^/]*$/, 'result');
  const freshBallot = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    form.elements.ballot.value = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  addEventListener('pageshow', (e) => { if (e.persisted) freshBallot(); });
  const say = (text, isError) => {
    status.textContent = text;
    status.classList.toggle('error', !!isError);
  };
  form.addEventListener('submit', async (e) => {
    const button = e.submitter;
    if (!button || !window.fetch) return;  // let the form post the usual way
    e.preventDefault();
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
        body: JSON.stringify({vote: button.value, ballot: form.elements.ballot.value}),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        buttons.forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
        say('Thanks, your vote for ' + button.dataset.label + ' is being recorded');
        freshBallot();
      } else {
        const reason = (answer.error && answer.error.message) || 'HTTP ' + response.status;
        say('Sorry, your vote could not be recorded: ' + reason + '. Please try again.', true);
      }
    } catch (err) {
      say('Sorry, your vote could not be sent (' + err.message + '). Please try again.', true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
})();
"""


def render_page(labels, *, ballot, picked=None, notice="", is_error=False, served_by=""):
    """The voting page as HTML; `picked` ("a", "b" or None) is marked as the voter's choice."""
    e = html.escape
    title = f"{labels['a']} vs {labels['b']}"
    buttons = "".join(
        f'<button class="choice {key}" type="submit" name="vote" value="{key}" '
        f'data-label="{e(label)}" aria-pressed="{"true" if key == picked else "false"}">'
        f'<span class="icon" aria-hidden="true">{ICONS.get(label.lower(), "")}</span>'
        f'<span>{e(label)}</span><span class="mark">Your vote</span></button>'
        for key, label in labels.items()
    )
    notice_class = "notice error" if is_error else "notice"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<link rel="icon" href="data:,">
<style>{CSS}{VOTE_CSS}</style>
</head>
<body>
<main>
<h1>{e(title)}</h1>
<p class="lead">Pick one. You can change your mind: only your latest vote counts.</p>
<form id="ballot-form" method="post">
<input type="hidden" name="ballot" value="{e(ballot)}">
<div class="choices" role="group" aria-label="Your vote">{buttons}</div>
</form>
<p id="status" class="{notice_class}" role="status">{e(notice)}</p>
<div class="foot">
<a id="results-link" href="{RESULTS_HREF}">See the results &rarr;</a>
<span>{e(served_by)}</span>
</div>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
