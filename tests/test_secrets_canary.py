"""Secrets canary: plant a unique value in every secret shipdeck reads, run releases through the
fakes (a kill -9 and resume, a rollback, Slack failing, an ECS rollout on moto killed and
resumed), take cockpit screenshots, and search every artifact for any canary: journals, state
files, stdout, stderr, logs, error messages, tracebacks, screenshots. Zero hits.

`SECRETS` is the one table: an environment variable, its canary, and which leg proves the
canary was really read and sent (a fake saw it). A secret no provider reads yet is planted
all the same but marked pending, and `test_every_secret_was_exercised` xfails strictly for it:
when its provider lands, add its config to a leg and drop the `pending` (the xfail turns into
a failure until you do).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from announce_support import rewrite_config
from cli_support import fast_world, journal_events, shipdeck, spawn
from fakes.aws_moto import Wire, client, moto_server, push_image, reset
from fakes.github_fake import running_fake
from fakes.product_server import ProductServer
from fakes.slack_fake import FakeSlack
from smoke_support import product_repo
from test_cli_release import _wait_for_event
from test_ecs import IMAGE, World, aws_release_world
from test_github_release import github_world
from test_smoke_release import _production_tag, _use_http_smoke

from shipdeck.core.clock import SystemClock
from shipdeck.core.config import parse_config
from shipdeck.core.providers.registry import production_registry
from shipdeck.core.providers.wiring import build_context, build_provider
from shipdeck.core.sandbox.datadog_fake import FakeDatadog, timeline

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Canary:
    variable: str
    value: str  # what is searched for; for a URL, its secret part
    pending: str = ""  # why no leg reads it yet


SECRETS = (
    Canary("SLACK_BOT_TOKEN", "xoxb-CANARY-slack-bot-51c7e2"),
    Canary("SLACK_WEBHOOK_GENERAL", "CANARY-slack-webhook-8d0f3a"),  # the path of the webhook URL
    Canary("SMTP_PASSWORD", "CANARY-smtp-password-2b9e41"),
    Canary("DD_API_KEY", "CANARY-dd-api-key-6f1a0c"),
    Canary("DD_APP_KEY", "CANARY-dd-app-key-93e5d7"),
    Canary("GITHUB_TOKEN", "ghp_CANARYgithubtoken7c4e19"),
    Canary("AWS_ACCESS_KEY_ID", "AKIACANARY7F3E9A2C41"),
    Canary("AWS_SECRET_ACCESS_KEY", "CANARYawsSecretAccessKey0e6b25"),
    Canary("SMOKE_PASSWORD", "CANARY-smoke-password-d5a803"),
)
CANARIES = {canary.variable: canary.value for canary in SECRETS}


def planted_environment(slack: FakeSlack) -> dict[str, str]:
    env = dict(CANARIES)
    env["SLACK_WEBHOOK_GENERAL"] = slack.webhook_url(CANARIES["SLACK_WEBHOOK_GENERAL"])
    env["SMOKE_EMAIL"] = "captain@example.com"
    return env


class Artifacts:
    """Everything a captain, a log collector or a screenshot could ever show, with where it came from."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.exercised: set[str] = set()

    def add(self, where: str, content: str | bytes) -> None:
        self.items.append((where, content.encode("utf-8", "replace") if isinstance(content, str) else content))

    def add_tree(self, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.add(str(path), path.read_bytes())

    def add_error(self, where: str, error: BaseException) -> None:
        self.add(where, "".join(traceback.format_exception(error)))

    def hits(self) -> list[str]:
        return [f"{canary.variable} in {where}" for where, content in self.items for canary in SECRETS if canary.value.encode() in content]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artifacts]:
    """Runs every leg once; the tests below look at what they left."""
    found = Artifacts()
    root = tmp_path_factory.mktemp("canary")
    with FakeSlack(token=CANARIES["SLACK_BOT_TOKEN"]) as slack:
        env = planted_environment(slack)
        _cli_leg(root, slack, env, found)
        if slack.count(f"/hooks/{CANARIES['SLACK_WEBHOOK_GENERAL']}") > 0:
            found.exercised.add("SLACK_WEBHOOK_GENERAL")
        if f"Bearer {CANARIES['SLACK_BOT_TOKEN']}" in slack.auth_headers:
            found.exercised.add("SLACK_BOT_TOKEN")
        found.add("the fake Slack's messages", repr(slack.messages()))
    _datadog_leg(found)
    _smtp_leg(root, found)
    _github_leg(root, env, found)
    _smoke_leg(root, env, found)
    _aws_leg(root, env, found)
    yield found


def _slack_world(root: Path, scenario: str, slack: FakeSlack) -> Any:
    world = fast_world(root / scenario, scenario)
    rewrite_config(
        world,
        notify={
            "provider": "slack",
            "token_env": "SLACK_BOT_TOKEN",
            "api_url": slack.api_url,
            "channels": {"general": "SLACK_WEBHOOK_GENERAL"},
            "timeout": "5s",
            "retries": 1,
            "max_retry_after": "2s",
        },
    )
    return world


def _cli_leg(root: Path, slack: FakeSlack, env: dict[str, str], found: Artifacts) -> None:
    """Real CLI processes: a healthy release killed with SIGKILL mid-deploy then resumed, with
    Slack rate limiting the bot and failing the #general webhook; then a regression rolled back."""
    world = _slack_world(root, "healthy", slack)
    slack.fail("/api/chat.postMessage", 429, times=1, retry_after=1)
    slack.fail(f"/hooks/{CANARIES['SLACK_WEBHOOK_GENERAL']}", 500, times=50)
    process = spawn(world, "release", "--auto", "--yes", **env)
    _wait_for_event(world, lambda e: e["kind"] == "step_progressed" and e["data"]["step"] == "deploy")
    process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=10)
    found.add("killed release stdout", out)
    found.add("killed release stderr", err)
    resumed = shipdeck(world, "resume", "--auto", **env)
    assert resumed.returncode == 0, resumed.stderr
    found.add("resume stdout", resumed.stdout)
    found.add("resume stderr", resumed.stderr)
    [success] = [e["data"] for e in journal_events(world) if e["kind"] == "step_passed" and e["data"]["step"] == "announce.success"]
    assert "HTTP 500" in success["summary"], f"the failing #general webhook was not exercised: {success}"

    regression = _slack_world(root, "regression", slack)
    rolled = shipdeck(regression, "release", "--auto", "--yes", "--json", **env)
    assert rolled.returncode == 3, rolled.stderr
    found.add("regression stdout (--json)", rolled.stdout)
    found.add("regression stderr", rolled.stderr)
    for command in (["status"], ["history"], ["doctor"]):
        result = shipdeck(regression, *command, **env)
        found.add(f"shipdeck {command[0]} stdout", result.stdout)
        found.add(f"shipdeck {command[0]} stderr", result.stderr)

    for world_ in (world, regression):
        _add_world(found, world_)


def _screenshots(world: Any) -> list[tuple[str, str]]:
    """The cockpit drawn from the release's real journal, plus the step detail of an announcement."""
    from tui_fixtures import Script, frozen_app

    from shipdeck.core.journal import Journal

    [path] = sorted((world.root / "state").glob("*/production/releases/*.jsonl"))
    events = Journal(path).load(repair=False)
    script = Script()
    script.events, script.at = events, events[-1].at
    shots: list[tuple[str, str]] = []

    async def take() -> None:
        app = frozen_app(script)
        async with app.run_test(size=(140, 48)) as pilot:
            await pilot.pause()
            shots.append(("cockpit", app.export_screenshot()))
            await pilot.press("enter")
            await pilot.pause()
            shots.append(("after enter", app.export_screenshot()))

    asyncio.run(take())
    assert "Announce" in shots[0][1], "the cockpit screenshot shows no checklist"
    return shots


def _datadog_leg(found: Artifacts) -> None:
    """The real Datadog provider built from a config: polls, a 500, a 429, and a key Datadog refuses."""
    series = {"p95_latency": {"query": "p95:trace.http.request{service:web}", "unit": "ms", "baseline": 500.0, "rollback_above": 2000.0}}
    logging.getLogger().setLevel(logging.DEBUG)
    for name in ("datadog_api_client", "urllib3", "httpx", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        for expected_key, label in ((CANARIES["DD_API_KEY"], "accepted keys"), ("some-other-key", "refused keys")):
            fake = FakeDatadog(api_key=expected_key, app_key=CANARIES["DD_APP_KEY"], production=timeline("v1.3.0", []), initial_tag="v1.3.0")
            url = fake.start()
            try:
                config = parse_config(Path("shipdeck.toml"), {"metrics": {"provider": "datadog", "url": url, "timeout": "2s", "series": series}})
                registry = production_registry()
                metrics = build_provider(build_context(config, "metrics", SystemClock(), None, "production", registry, CANARIES), registry)
                fake.inject("500", times=1)
                fake.inject("429", times=1, reset=1)
                answered = 0
                for poll in range(4):
                    try:
                        points = asyncio.run(metrics.latest(["p95_latency"], 1_700_000_000.0 + 10 * poll))
                        found.add(f"datadog {label} poll {poll}", repr(points))
                        answered += any(point.value is not None for point in points)
                    except Exception as error:  # what a captain would see: the message and its traceback
                        found.add_error(f"datadog {label} poll {poll}", error)
                if label == "accepted keys" and answered:  # the fake answers only to the canary keys
                    found.exercised.update({"DD_API_KEY", "DD_APP_KEY"})
                metrics.close()
            finally:
                fake.stop()
    finally:
        logging.getLogger().removeHandler(handler)
        for name in ("datadog_api_client", "urllib3", "httpx", "slack_sdk"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    found.add("log records at DEBUG (datadog leg)", "\n".join(records))


def _smtp_leg(root: Path, found: Artifacts) -> None:
    """The SMTP provider built from a config against aiosmtpd: a login accepted, then one refused."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    passwords: list[str] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        passwords.append(auth_data.password.decode())
        return AuthResult(success=len(passwords) == 1, handled=False)  # the second login is refused

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    # Plain SMTP with AUTH allowed without TLS: STARTTLS is covered by test_email.py.
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        table = {"provider": "smtp", "host": "127.0.0.1", "port": port, "starttls": False, "from": "releases@example.com",
                 "to": ["customers@example.com"], "username": "releases", "password_env": "SMTP_PASSWORD", "timeout": "5s"}
        config = parse_config(Path("shipdeck.toml"), {"email": table})
        registry = production_registry()
        mailer = build_provider(build_context(config, "email", SystemClock(), None, "production", registry, CANARIES), registry)
        for attempt in range(2):
            try:
                found.add(f"smtp send {attempt}", asyncio.run(mailer.send("demo v2.0.0 is out", "notes", f"r:announce.success:{attempt}:email")))
            except Exception as error:
                found.add_error(f"smtp send {attempt}", error)
        found.add("smtp mailer repr", repr(vars(mailer)))
    finally:
        controller.stop()
    if CANARIES["SMTP_PASSWORD"] in passwords:
        found.exercised.add("SMTP_PASSWORD")


def _add_world(found: Artifacts, world: Any) -> None:
    """A world's state directory, its simulated world file if any, and cockpit screenshots."""
    found.add_tree(world.root / "state")
    if (world.root / "world.json").exists():
        found.add(f"{world.root}/world.json", (world.root / "world.json").read_bytes())
    for name, svg in _screenshots(world):
        found.add(f"cockpit screenshot {name} of {world.root.name}", svg)


def _add_run(found: Artifacts, what: str, result: Any) -> None:
    found.add(f"{what} stdout", result.stdout)
    found.add(f"{what} stderr", result.stderr)


def _github_leg(root: Path, env: dict[str, str], found: Artifacts) -> None:
    """`[deploy] github-actions` + `[ci] github` against the GitHub fake, the token in GITHUB_TOKEN:
    a release killed with SIGKILL after the dispatch then resumed; a release whose workflow
    fails; doctor while GitHub answers with an error echoing the token, then refusing it."""
    token = CANARIES["GITHUB_TOKEN"]

    def world_at(name: str, fake: Any) -> Any:
        world = github_world(root / name, fake)
        text = world.config.read_text(encoding="utf-8")
        world.config.write_text(text.replace('token_env = "SHIPDECK_TEST_GITHUB_TOKEN"', 'token_env = "GITHUB_TOKEN"'), encoding="utf-8")
        return world

    with running_fake(token=token, step_seconds=0.3, green_by_default=True) as fake:
        crashed = world_at("github-crash", fake)
        process = spawn(crashed, "release", "--auto", "--yes", **env)
        try:
            _wait_for(lambda: fake.dispatches > 0)
        finally:
            process.send_signal(signal.SIGKILL)
            out, err = process.communicate(timeout=10)
        found.add("killed GitHub release stdout", out)
        found.add("killed GitHub release stderr", err)
        resumed = shipdeck(crashed, "resume", "--auto", **env)
        _add_run(found, "GitHub resume", resumed)
        assert resumed.returncode == 0, resumed.stderr
        assert fake.dispatches == 1 and [r["tag_name"] for r in fake.releases] == ["v1.4.0"]

        failing = world_at("github-failure", fake)
        fake.step_seconds = 0.05
        fake.fail_step["v1.4.0"] = "Health check"
        failed = shipdeck(failing, "release", "--auto", "--yes", "--json", **env)
        _add_run(found, "failing GitHub release (--json)", failed)
        assert failed.returncode not in (0, 2), failed.stderr  # a failed workflow never ends as a success
        assert any(e["kind"] == "step_failed" and e["data"]["step"] == "deploy" for e in journal_events(failing)), failed.stderr

        fake.errors["/repos/acme/shop/actions/workflows/deploy.yml"] = (502, f"proxy refused Authorization: Bearer {token}")
        echoed = shipdeck(failing, "doctor", **env)
        _add_run(found, "doctor, GitHub echoing the token", echoed)
        assert "proxy refused Authorization" in echoed.stdout, echoed.stdout  # the hostile answer was shown, masked
        fake.errors.clear()
        fake.token = "ghp_someoneelsestoken"
        refused = shipdeck(failing, "doctor", **env)
        _add_run(found, "doctor, token refused", refused)
        assert refused.returncode != 0, refused.stdout
        fake.token = token

        if (f"Bearer {token}") in {authorization for _, authorization in fake.authorizations} and fake.dispatches:
            found.exercised.add("GITHUB_TOKEN")
    for world in (crashed, failing):
        _add_world(found, world)


def _smoke_leg(root: Path, env: dict[str, str], found: Artifacts) -> None:
    """`[smoke] http` with `${SMOKE_EMAIL}`/`${SMOKE_PASSWORD}` against loopback products: production
    under the new tag refuses the login with a body echoing what it was sent (the password), so
    the release rolls back and the smoke test after the rollback passes."""
    world = fast_world(root / "smoke")
    world_file = world.root / "world.json"
    new_tag_runs = lambda: _production_tag(world_file) == "v1.4.0"  # noqa: E731

    class Echoing(ProductServer):
        def handle(self, method: str, target: str, headers: Any, body: Any) -> tuple[int, Any, str]:
            if method == "POST" and target == "/api/login" and new_tag_runs():
                return 401, {"error": "invalid email or password", "you sent": body}, "application/json"
            return super().handle(method, target, headers, body)

    users = {env["SMOKE_EMAIL"]: CANARIES["SMOKE_PASSWORD"]}
    with ProductServer(users) as staging, Echoing(users) as production:
        _use_http_smoke(world.config, staging.url, production.url, product_repo(root / "smoke-product"))
        result = shipdeck(world, "release", "--auto", "--yes", **env)
        _add_run(found, "smoke release", result)
        assert result.returncode == 3, result.stderr
        failed = [e["data"] for e in journal_events(world) if e["kind"] == "step_failed" and e["data"]["step"] == "verify.smoke"]
        assert failed and "status 401" in failed[0]["summary"], f"the echoing login was not exercised: {failed}"
        for command in (["status"], ["history"], ["doctor"]):
            _add_run(found, f"smoke world: shipdeck {command[0]}", shipdeck(world, *command, **env))
        if staging.tokens and production.tokens:  # a token is issued only to the right password
            found.exercised.add("SMOKE_PASSWORD")
    _add_world(found, world)


def _aws_world(root: Path, url: str, name: str, outcome: str) -> tuple[Any, World]:
    """A demo release world with `[image] ecr` and `[deploy] ecs` on a fresh moto: production
    steady on v1.3.0, the image v1.4.0 pushed, and the next rollout scripted to `outcome`."""
    reset(url)
    aws = World(url, "complete", step=0.3)
    previous = aws.register(f"{IMAGE}:v1.3.0")
    aws.ecs.update_service(cluster="prod", service="web", taskDefinition=previous)
    aws.rollouts.wait_steady(previous)
    aws.rollouts.calls.clear()
    aws.rollouts.outcome, aws.rollouts.step = outcome, 0.3 if outcome == "complete" else 0.05
    client("ecr", url).create_repository(repositoryName="web")
    push_image(url, "web", "v1.4.0")
    return aws_release_world(root / name, url), aws


def _aws_leg(root: Path, env: dict[str, str], found: Artifacts) -> None:
    """`[image] ecr` + `[deploy] ecs` against moto, the credentials in AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY: a release killed with SIGKILL mid-rollout then resumed; a release whose
    rollout fails; doctor while AWS answers, then while it refuses the credentials."""
    wire = Wire()
    worlds: list[Any] = []
    with moto_server(wire) as url:  # it sets other credentials in this process: env overrides them for the CLI
        crashed, aws = _aws_world(root, url, "aws-crash", "complete")
        worlds.append(crashed)
        try:
            process = spawn(crashed, "release", "--auto", "--yes", **env)
            try:
                _wait_for_event(crashed, lambda e: e["kind"] == "step_progressed" and e["data"]["step"] == "deploy")
            finally:
                process.send_signal(signal.SIGKILL)
                out, err = process.communicate(timeout=10)
            found.add("killed AWS release stdout", out)
            found.add("killed AWS release stderr", err)
            assert aws.rollouts.calls["update_service"] == 1, "the release was not killed mid-rollout"
            resumed = shipdeck(crashed, "resume", "--auto", **env)
            _add_run(found, "AWS resume", resumed)
            assert resumed.returncode == 0, resumed.stderr
            assert aws.rollouts.calls == {"register_task_definition": 1, "update_service": 1}
            _add_run(found, "doctor, AWS answering", shipdeck(crashed, "doctor", **env))
            refusal = "The security token included in the request is invalid."
            wire.faults.update({op: (400, "UnrecognizedClientException", refusal) for op in ("DescribeServices", "DescribeRepositories")})
            refused = shipdeck(crashed, "doctor", **env)
            _add_run(found, "doctor, AWS refusing the credentials", refused)
            assert refused.returncode != 0 and "UnrecognizedClientException" in refused.stdout, refused.stdout
            # AWS's own answer to a malformed signature quotes the Authorization header it got.
            echo = f"Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential={CANARIES['AWS_ACCESS_KEY_ID']}/20261127/us-east-1/ecs/aws4_request"
            wire.faults.update({op: (400, "IncompleteSignatureException", echo) for op in ("DescribeServices", "DescribeRepositories")})
            echoed = shipdeck(crashed, "doctor", **env)
            _add_run(found, "doctor, AWS echoing the Authorization header", echoed)
            assert echoed.returncode != 0 and "Credential=***/20261127" in echoed.stdout, echoed.stdout  # shown, masked
            wire.faults.clear()
        finally:
            aws.rollouts.stop()

        failing, aws = _aws_world(root, url, "aws-failure", "fail")
        worlds.append(failing)
        try:
            failed = shipdeck(failing, "release", "--auto", "--yes", "--json", **env)
            _add_run(found, "failing AWS rollout (--json)", failed)
            assert failed.returncode not in (0, 2), failed.stderr  # a failed rollout never ends as a success
            assert any(e["kind"] == "step_failed" and e["data"]["step"] == "deploy" for e in journal_events(failing)), failed.stderr
        finally:
            aws.rollouts.stop()
    # SigV4 sends the access key id and a signature, never the secret: a request from the CLI
    # naming the canary key id was signed with the canary secret (boto3 reads them as a pair).
    signed = [a for a in wire.authorizations() if f"Credential={CANARIES['AWS_ACCESS_KEY_ID']}/" in a]
    if signed and not any(CANARIES["AWS_SECRET_ACCESS_KEY"] in value for headers in wire.headers for value in headers.values()):
        found.exercised.update({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})
    for world in worlds:
        _add_world(found, world)


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_no_canary_appears_in_any_artifact(artifacts: Artifacts) -> None:
    assert len(artifacts.items) > 20, "the legs left almost nothing to search: they did not run"
    assert artifacts.hits() == []


@pytest.mark.parametrize(
    "canary",
    [pytest.param(c, id=c.variable, marks=[pytest.mark.xfail(strict=True, reason=f"planted, but {c.pending}")] if c.pending else []) for c in SECRETS],
)
def test_every_secret_was_exercised(artifacts: Artifacts, canary: Canary) -> None:
    """A canary no fake ever saw proves nothing: each one must have been read and sent."""
    assert canary.variable in artifacts.exercised
