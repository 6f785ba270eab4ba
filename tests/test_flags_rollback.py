"""`shipdeck rollback` after a release has ended turns back the flags that release ramped, then redeploys.

The real runner and journals on a generated repository with a bare origin (tests/lifetime_world.py),
the simulated deploy world, and the LaunchDarkly backend over HTTP to its loopback fake.
"""

from __future__ import annotations

import shutil
from typing import Iterator

import pytest
from lifetime_world import FLAG, Product, load_events

from shipdeck.core.events import EventKind
from shipdeck.core.ledger import Ledger
from shipdeck.core.machine import phase_of


@pytest.fixture
def product() -> Iterator[Product]:
    made = Product(with_flags=True)
    yield made
    made.close()
    shutil.rmtree(made.root, ignore_errors=True)


def _release(product: Product) -> None:
    chosen = {}

    def healthy(state) -> None:  # type: ignore[no-untyped-def]
        chosen["tag"] = state.tag
        product.set_behaviour(state.tag, "healthy")

    result, _ = product.run(product.options(), before_run=healthy)
    assert phase_of(result.state).value == "done", [(s.id, s.status.value, s.summary) for s in result.state.steps]


def test_a_rollback_after_the_release_turns_its_flag_back_first_then_redeploys(product: Product) -> None:
    product.add_commit("develop", "conventional")
    _release(product)  # v1.4.0, which ramps the flag to 100 %
    assert product.flags is not None and product.flags.state().stage == "100%"
    changes = len(product.flags.changes)
    ledger = Ledger.from_store(product.store())
    assert ledger.flags()[FLAG]["stage"] == "100%"
    assert ledger.flags_to_turn_back("v1.4.0")[FLAG]["from"] == "off"

    result, _ = product.run(product.options(), rollback_reason="support tickets after the release")
    assert phase_of(result.state).value == "rolled_back"
    assert product.flags.state().stage == "off"
    assert len(product.flags.changes) == changes + 1  # one change turns it back
    events = load_events(result.journal)
    intents = [e.data["step"] for e in events if e.kind is EventKind.INTENT and e.data.get("action") in ("flag_change", "deploy")]
    assert intents.index("rollback.flags") < intents.index("rollback.deploy"), intents  # flags first, then the redeploy
    assert product.world.production_tag == "v1.3.0"
    after = Ledger.from_store(product.store())
    assert after.flags()[FLAG]["stage"] == "off"  # status shows what the rollback journal left
    assert after.flags_to_turn_back("v1.3.0") == {}


def test_flags_ramped_alone_while_a_version_ran_are_turned_back_by_its_rollback(product: Product) -> None:
    product.add_commit("develop", "conventional")
    _release(product)
    assert product.flags is not None
    off, _ = product.run(product.options(), ramp_to="off")  # a person turned it off...
    again, _ = product.run(product.options(), ramp_to="10")  # ...and ramped it again, alone
    assert product.flags.state().stage == "10%"
    ledger = Ledger.from_store(product.store())
    assert ledger.flags()[FLAG]["stage"] == "10%" and ledger.flags()[FLAG]["journal"] == again.state.id
    result, _ = product.run(product.options(), rollback_reason="errors")
    assert phase_of(result.state).value == "rolled_back"
    assert product.flags.state().stage == "off"
