"""How much the public form endpoint takes (WEB-3), and why these numbers.

Counters are the fixed windows of domain/shared/limits.py (conditional ADD:
a refused request is not counted, so a flood cannot push a window's end
further away), and ``Retry-After`` is the time to the window's end: a person
who waits that long and sends again finds a fresh window.

- Per client address, every POST counts (bots, invalid ones and all):
  5 a minute. A person sends a form once, maybe three times with typing
  mistakes; a fair stand's tablet behind one address about once a minute.
  A minute is as long as we can ask a person to wait.
- Per form, only submissions that passed every check count (the honeypot,
  the stamp and validation cost the form's budget nothing, so dumb bots
  cannot crowd people out): 60 a minute, one a second on average. Above
  what a campaign brings to a small company's form at its peak, and it caps
  how fast a flood that passes for people fills the CRM and the inboxes.
- Bodies: 64 kB. The longest answer a form takes (10,000 characters of
  message, in UTF-8 and form-encoded) fits; nothing a person types is bigger.
"""

from __future__ import annotations

from chalicelib.domain.shared.limits import Limit

# The bodies the public endpoint takes (here, not in submission.py, so the routes name them without loading models).
FORM_ENCODED = "application/x-www-form-urlencoded"
JSON = "application/json"

MAX_BODY_BYTES = 64 * 1024

# Few hits (people's submissions): listed for housekeeping as well as TTL.
PER_CLIENT = Limit("form-ip", hits=5, window_seconds=60, sweep=True)
PER_FORM = Limit("form", hits=60, window_seconds=60, sweep=True)
