"""The reference process's five critical paths as `[[smoke.checks]]`: what `shipdeck init` writes.

Written by hand rather than by tomli-w, which would spell each step as its own
`[[smoke.checks.steps]]` table; one line per request reads like the process it tests. The
test suite runs this very text against its loopback product, so the example stays true.
"""

from __future__ import annotations

_LOGIN = '{ method = "POST", path = "/api/login", json = { email = "${SMOKE_EMAIL}", password = "${SMOKE_PASSWORD}" }, expect = { status = 200 }, save = { token = "json:token" } }'
_AUTH = 'headers = { Authorization = "Bearer {token}" }'

SMOKE_EXAMPLE = f"""\
[smoke]
provider = "http"
timeout = "10s"

[[smoke.checks]]
name = "Login works"
steps = [
  {_LOGIN},
  {{ method = "GET", path = "/api/me", {_AUTH}, expect = {{ status = 200, json = {{ "user.email" = "${{SMOKE_EMAIL}}" }}, max_ms = 800 }} }},
]

[[smoke.checks]]
name = "Apply to a job (end to end)"
steps = [
  {_LOGIN},
  {{ method = "GET", path = "/api/jobs", {_AUTH}, expect = {{ status = 200 }}, save = {{ job = "json:jobs.0.id" }} }},
  {{ method = "POST", path = "/api/jobs/{{job}}/applications", {_AUTH}, json = {{ cover_letter = "shipdeck smoke test" }}, expect = {{ status = 201, json = {{ "application.status" = "submitted" }} }}, save = {{ application = "json:application.id" }} }},
  {{ method = "GET", path = "/api/applications/{{application}}", {_AUTH}, expect = {{ status = 200, json = {{ "application.status" = "submitted" }} }} }},
]

[[smoke.checks]]
name = "Tracker loads"
steps = [
  {_LOGIN},
  {{ method = "GET", path = "/tracker", {_AUTH}, expect = {{ status = 200, body = "Application tracker", max_ms = 1500 }} }},
]

[[smoke.checks]]
name = "Email sent"
kind = "command"
argv = ["./scripts/check-sendgrid.sh", "{{environment}}", "{{url}}"]
timeout = "60s"

[[smoke.checks]]
name = "Upgrade to Pro (Stripe test mode)"
steps = [
  {_LOGIN},
  {{ method = "POST", path = "/api/billing/checkout", {_AUTH}, json = {{ plan = "pro", payment_method = "pm_card_visa" }}, expect = {{ status = 200, json = {{ "session.livemode" = false, "session.status" = "complete" }} }} }},
  {{ method = "GET", path = "/api/me", {_AUTH}, expect = {{ json = {{ "user.plan" = "pro" }} }} }},
]
"""

SMOKE_EXAMPLE_COMMENT = """\
Example: the five critical paths over HTTP (adapt paths and fields to your product).
${VAR} is read from the environment (a secret: masked everywhere; unset, the check fails);
{name} is a value an earlier step saved. A command check is an argv with a deadline
({environment}, {url}, {version}); it runs in the repository and inherits the environment.
To use it, replace the [smoke] table above with this one."""
