"""The live results page of the serverless voting app, and its JSON tally.

    GET /        the page: both options with counts, percentages and a bar; it polls the tally
                 every second (while visible) and updates in place
    GET /tally   {"a": n, "b": m, "total": n + m, "options": {"a": "Cats", "b": "Dogs"}}

The tally is one `HMGET votes:counts a b`: record-vote keeps those counters in step with the
per-voter ballots atomically (see its handler), so reading them is exact and O(1) however many
people voted. 503 when Redis cannot be reached. Needs `network: true` (FAAS_REDIS_URL).
OPTION_A / OPTION_B rename the two options (default Cats and Dogs), as in the original app.
"""

import html
import os

import redis

COUNTS = "votes:counts"  # hash "a" -> n, "b" -> m, written by record-vote
# Without JavaScript the vote link cannot see the URL the page was served at; this is where the
# gateway serves the vote function. The page's script replaces it with the sibling of the
# current URL (which also works behind a proxy that adds a path prefix).
VOTE_HREF = "/function/vote"

# One client per container, created on the first call and reused by every warm call after it.
_client = None


class Unavailable(Exception):
    """Redis cannot be used: 503."""


def handle(event, context):
    method = event.method.upper()
    if method not in ("GET", "HEAD"):
        response = _error(405, "method_not_allowed", f"{method} is not allowed: use GET")
        response["headers"]["Allow"] = "GET, HEAD"
        return response
    path = event.path.rstrip("/")
    if path == "/tally":
        try:
            return {"statusCode": 200, "headers": _no_store(), "body": tally()}
        except Unavailable as exc:
            return _error(503, "unavailable", str(exc))
    if path == "":
        return _page_response(context)
    return _error(404, "not_found", f"nothing at {event.path}: try / (the page) or /tally (JSON)")


def options():
    """{"a": label, "b": label}, from OPTION_A / OPTION_B."""
    return {"a": os.environ.get("OPTION_A", "Cats"), "b": os.environ.get("OPTION_B", "Dogs")}


def tally():
    """The current counts; raises Unavailable."""
    try:
        a, b = redis_client().hmget(COUNTS, ["a", "b"])
    except redis.RedisError as exc:
        raise Unavailable(f"Redis cannot be read ({exc})") from exc
    a, b = max(0, int(a or 0)), max(0, int(b or 0))
    return {"a": a, "b": b, "total": a + b, "options": options()}


def redis_client():
    """The container's Redis client, created on first use from FAAS_REDIS_URL."""
    global _client
    if _client is None:
        url = os.environ.get("FAAS_REDIS_URL")
        if not url:
            raise Unavailable(
                "FAAS_REDIS_URL is not set (its faas.yaml needs `redis: {keyspace: votes}`)"
            )
        try:
            _client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise Unavailable(f"FAAS_REDIS_URL is not a usable Redis URL ({exc})") from None
    return _client


def percentages(a, b):
    """Whole percentages that add up to 100 (0 and 0 with no votes); rounds as JS Math.round."""
    total = a + b
    if not total:
        return 0, 0
    share = int(100 * a / total + 0.5)
    return share, 100 - share


# --- Responses ----------------------------------------------------------------------------


def _no_store():
    return {"Cache-Control": "no-store"}


def _error(status, code, message):
    body = {"error": {"code": code, "message": message}}
    return {"statusCode": status, "headers": _no_store(), "body": body}


def _page_response(context):
    status, error = 200, ""
    try:
        counts = tally()
    except Unavailable as exc:
        status, error, counts = 503, f"{exc}. Retrying...", None
    # How this page was served, never by which container: its id is nobody's business.
    served_by = "served by a cold start" if getattr(context, "cold", False) else "served warm"
    page = render_page(options(), counts, error=error, served_by=served_by)
    headers = {**_no_store(), "Content-Type": "text/html; charset=utf-8"}
    return {"statusCode": status, "headers": headers, "body": page}


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

RESULT_CSS = """
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.side{text-align:center;padding:1rem .5rem;border-radius:.75rem;border:1px solid var(--line)}
.side .icon{display:flex;justify-content:center}
.side .icon svg{width:2.75rem;height:2.75rem}
.side.a .icon{color:var(--a)}.side.b .icon{color:var(--b)}
.side .label{font-weight:700;font-size:1.125rem}
.side.a .label{color:var(--a)}.side.b .label{color:var(--b)}
@media (prefers-color-scheme:dark){.side.a .label,.side.b .label{color:inherit}}
.count{font-size:clamp(2rem,10vw,3rem);font-weight:800;line-height:1.1;
font-variant-numeric:tabular-nums}
.pct{color:var(--muted);font-variant-numeric:tabular-nums}
.bar{display:flex;height:1.5rem;margin:1.5rem 0 .5rem;border-radius:999px;overflow:hidden;
background:var(--line)}
.bar span{transition:width .4s ease}
.bar .a{background:var(--a)}.bar .b{background:var(--b)}
.bar.empty span{background:transparent}
.total{margin:0;text-align:center;color:var(--muted);font-variant-numeric:tabular-nums}
"""

# Polls the tally every second while the page is visible, one request at a time.
SCRIPT = """
(() => {
  const root = location.pathname.replace(/\\/+$/, '');
  document.getElementById('vote-link').href = root.replace(/[^/]*$/, 'vote');
  const url = root + '/tally';
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const render = (t) => {
    const share = t.total ? Math.round(100 * t.a / t.total) : 0;
    const pct = {a: share, b: t.total ? 100 - share : 0};
    for (const key of ['a', 'b']) {
      $('count-' + key).textContent = t[key];
      $('pct-' + key).textContent = pct[key] + '%';
      $('bar-' + key).style.width = (t.total ? pct[key] : 50) + '%';
    }
    $('bar').classList.toggle('empty', !t.total);
    const votes = t.total === 1 ? ' vote' : ' votes';
    $('total').textContent = t.total ? t.total + votes : 'No votes yet';
  };
  const tick = async () => {
    if (!document.hidden) {
      try {
        const headers = {Accept: 'application/json'};
        const response = await fetch(url, {cache: 'no-store', headers});
        const answer = await response.json();
        if (!response.ok) {
          throw new Error(answer.error ? answer.error.message : 'HTTP ' + response.status);
        }
        render(answer);
        status.textContent = '';
      } catch (err) {
        status.textContent = 'Live updates paused (' + err.message + '). Retrying...';
      }
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
})();
"""


def render_page(labels, counts, *, error="", served_by=""):
    """The results page as HTML, showing `counts` (a tally() dict, or None when unknown)."""
    e = html.escape
    title = f"{labels['a']} vs {labels['b']}"
    known = counts is not None
    number = counts if known else {"a": 0, "b": 0}
    total = number["a"] + number["b"]
    share = dict(zip("ab", percentages(number["a"], number["b"]), strict=True))
    unknown = "&ndash;"  # Redis could not be read: the script fills the numbers in later
    sides = "".join(
        f'<div class="side {key}">'
        f'<div class="icon" aria-hidden="true">{ICONS.get(label.lower(), "")}</div>'
        f'<div class="label">{e(label)}</div>'
        f'<div class="count" id="count-{key}">{number[key] if known else unknown}</div>'
        f'<div class="pct" id="pct-{key}">{f"{share[key]}%" if known else unknown}</div></div>'
        for key, label in labels.items()
    )
    bar_class = "bar" if total else "bar empty"
    width = share if total else {"a": 50, "b": 50}
    if not known:
        total_text = unknown
    elif total:
        total_text = f"{total} vote{'' if total == 1 else 's'}"
    else:
        total_text = "No votes yet"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<link rel="icon" href="data:,">
<style>{CSS}{RESULT_CSS}</style>
</head>
<body>
<main>
<h1>{e(title)}</h1>
<p class="lead">Live results, updated every second.</p>
<div class="sides">{sides}</div>
<div id="bar" class="{bar_class}" role="presentation">
<span id="bar-a" class="a" style="width:{width["a"]}%"></span>
<span id="bar-b" class="b" style="width:{width["b"]}%"></span>
</div>
<p id="total" class="total">{total_text}</p>
<p id="status" class="notice error" role="status">{e(error)}</p>
<div class="foot">
<a id="vote-link" href="{VOTE_HREF}">&larr; Vote</a>
<span>{e(served_by)}</span>
</div>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
