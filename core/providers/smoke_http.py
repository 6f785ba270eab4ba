"""Running one HTTP smoke check: its steps in order, with httpx, against an environment's base URL.

Everything that comes back is untrusted: bodies are cut, cleaned of terminal controls
(sanitize.plain) and masked before they reach a result, and no part of a response is ever
interpreted. `${VAR}` values and saved values that look like credentials are secrets here.
"""

from __future__ import annotations

import json as jsonlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ..sanitize import plain
from ..secrets import Secret, mask
from .smoke_checks import ENV_REFERENCE, SAVED_REFERENCE, SmokeCheck, Step

if TYPE_CHECKING:
    import httpx

BODY_LIMIT = 300  # characters of a response body shown on failure
SECRET_SAVED_LENGTH = 8  # a saved value this long may be a session token: masked (a short id is not)
_MISSING = object()


@dataclass
class Values:
    """What placeholders resolve to inside one check: `${VAR}` secrets and `{name}` saved values."""

    variables: Mapping[str, Secret]
    saved: dict[str, str] = field(default_factory=dict)
    masks: list[Secret] = field(default_factory=list)

    def fill(self, text: str) -> str:
        """`text` with `${VAR}` and `{name}` replaced (validated at load: every name is known)."""
        text = ENV_REFERENCE.sub(lambda match: self.variables[match.group(1)].reveal(), text)
        return SAVED_REFERENCE.sub(lambda match: self.saved.get(match.group(1), match.group(0)), text)

    def fill_json(self, value: Any) -> Any:
        """A JSON body with every string (keys too) filled."""
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, Mapping):
            return {self.fill(str(key)): self.fill_json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fill_json(item) for item in value]
        return value

    def save(self, name: str, value: str) -> None:
        self.saved[name] = value
        if len(value) >= SECRET_SAVED_LENGTH:
            self.masks.append(Secret(f"saved {name}", value))

    def clean(self, text: str) -> str:
        """Untrusted text made safe to show: masked, controls stripped, masked again (stripping can join a secret)."""
        secrets = [*self.variables.values(), *self.masks]
        return mask(plain(mask(text, secrets)), secrets)


@dataclass(frozen=True)
class StepOutcome:
    """How one request went; `problems` empty means it met its expectation."""

    request: str
    status: int | None
    elapsed_ms: float
    problems: tuple[str, ...] = ()
    got: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems

    def line(self) -> str:
        answer = f"{self.status}" if self.status is not None else "no answer"
        return f"{self.request} → {answer} in {self.elapsed_ms:.0f} ms"


async def run_step(client: httpx.AsyncClient, step: Step, values: Values, timeout: float) -> StepOutcome:
    """Send one step's request and hold the response to the step's expectation; saves values on success."""
    import httpx

    request = values.clean(f"{step.method} {values.fill(step.path)}")
    started = time.monotonic()
    try:
        response = await client.request(
            step.method,
            values.fill(step.path).lstrip("/"),  # relative: it joins the base URL's own path
            json=values.fill_json(step.json) if step.json is not None else None,
            headers={name: values.fill(value) for name, value in step.headers.items()},
        )
    except httpx.TimeoutException:
        return StepOutcome(request, None, _ms(started), (f"no answer within {timeout:g}s",), "no answer (timed out)")
    except httpx.HTTPError as error:
        problem = values.clean(f"no answer ({type(error).__name__}: {str(error)[:200]})")
        return StepOutcome(request, None, _ms(started), (problem,), problem)
    elapsed_ms = _ms(started)
    body_text = response.text
    problems: list[str] = []
    shown: list[str] = [f"status {response.status_code}"]
    if step.expect.status is not None and response.status_code != step.expect.status:
        problems.append(f"status {response.status_code}, expected {step.expect.status}")
    document: Any = _MISSING
    if step.expect.json or any(source.startswith("json:") for source in step.save.values()):
        try:
            document = jsonlib.loads(body_text)
        except ValueError:
            problems.append("the body is not JSON")
    if document is not _MISSING and not problems:
        for path, wanted in step.expect.json.items():
            actual = dig(document, path)
            expected = values.fill_json(wanted)
            if not same(actual, expected):
                problems.append(f"{path} differs")
                shown.append(f"{path} = {'(absent)' if actual is _MISSING else _show(actual)}")
    if step.expect.body is not None and values.fill(step.expect.body) not in body_text:
        problems.append(f"the body does not contain {step.expect.body!r}")
    if step.expect.max_ms is not None and elapsed_ms > step.expect.max_ms:
        problems.append(f"took {elapsed_ms:.0f} ms, over max_ms {step.expect.max_ms:g}")
        shown.append(f"{elapsed_ms:.0f} ms")
    if not problems:
        for name, source in step.save.items():
            kind, _, where = source.partition(":")
            found: Any = dig(document, where) if kind == "json" else response.headers.get(where, _MISSING)
            if found is _MISSING or found is None or isinstance(found, (dict, list)):
                problems.append(f"nothing to save as {{{name}}}: {source} is not in the response")
            else:
                values.save(name, found if isinstance(found, str) else _scalar(found))
    if problems:
        shown.append(f"body {cut(values.clean(body_text))!r}" if body_text else "empty body")
    return StepOutcome(request, response.status_code, elapsed_ms, tuple(values.clean(p) for p in problems), values.clean("; ".join(shown)))


async def run_http_check(check: SmokeCheck, base_url: str, values: Values, timeout: float) -> tuple[list[StepOutcome], Step | None]:
    """Every step in order until one fails; returns the outcomes and the failing step (None: all passed)."""
    import httpx

    outcomes: list[StepOutcome] = []
    try:
        # A fresh client per check: cookies set by one critical path never help another pass.
        client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", timeout=httpx.Timeout(timeout), follow_redirects=False)
    except (httpx.InvalidURL, TypeError) as error:
        problem = values.clean(f"the base URL {base_url!r} is not a valid URL ({error}); fix [environments] url")
        return [StepOutcome(check.steps[0].request, None, 0.0, (problem,), "not run")], check.steps[0]
    async with client:
        for step in check.steps:
            outcome = await run_step(client, step, values, timeout)
            outcomes.append(outcome)
            if not outcome.passed:
                return outcomes, step
    return outcomes, None


def dig(document: Any, path: str) -> Any:
    """The value at a dotted path (`user.email`, `items.0.id`), or a marker when absent."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def same(actual: Any, expected: Any) -> bool:
    """Equal, or a scalar equal to the text an expectation gives (placeholders are always text)."""
    if actual is _MISSING:
        return False
    if actual == expected and type(actual) is type(expected):
        return True
    if isinstance(expected, str) and not isinstance(actual, (str, dict, list)) and actual is not None:
        return _scalar(actual) == expected
    return isinstance(actual, (int, float)) and isinstance(expected, (int, float)) and not isinstance(actual, bool) and not isinstance(expected, bool) and actual == expected


def cut(text: str, limit: int = BODY_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def _scalar(value: Any) -> str:
    return jsonlib.dumps(value) if isinstance(value, bool) or value is None else str(value)


def _show(value: Any) -> str:
    return cut(jsonlib.dumps(value, ensure_ascii=False), 120)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
