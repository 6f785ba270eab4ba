"""Shared by the smoke tests: the init example's checks, and the email script it runs."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from shipdeck.core.providers.smoke_checks import SmokeCheck, parse_checks
from shipdeck.core.providers.smoke_example import SMOKE_EXAMPLE

SMOKE_ENV = {"SMOKE_EMAIL": "smoke@example.com", "SMOKE_PASSWORD": "correct horse battery"}

# What `./scripts/check-sendgrid.sh {environment} {url}` does in the tests: ask the product's
# outbox whether the smoke user got the application email.
EMAIL_SCRIPT = f"""#!{sys.executable}
import json, os, sys, urllib.request
environment, url = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(url.rstrip("/") + "/api/test/outbox?to=" + os.environ["SMOKE_EMAIL"], timeout=5) as answer:
    emails = json.load(answer)["emails"]
if not emails:
    print(f"no email to the smoke user on {{environment}}")
    sys.exit(1)
print(f"{{len(emails)}} email(s) on {{environment}}: {{emails[-1]['subject']}}")
"""


def example_checks() -> tuple[SmokeCheck, ...]:
    """The five critical paths exactly as `shipdeck init` writes them."""
    return parse_checks(tomllib.loads(SMOKE_EXAMPLE)["smoke"])


def product_repo(root: Path) -> Path:
    """A folder holding `scripts/check-sendgrid.sh`, where command checks run."""
    script = root / "scripts" / "check-sendgrid.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(EMAIL_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    return root
