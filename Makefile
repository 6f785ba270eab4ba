# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Rolled back (3) and quit mid-release (4) are outcomes of a demo, not failures of make; any
# other non-zero code is passed on. DEMO_ARGS, e.g. "--scenario regression --dir /tmp/world".
demo: $(STAMP)
	@$(BIN)/shipdeck demo $(DEMO_ARGS); code=$$?; \
	case $$code in 0|3|4) exit 0 ;; *) echo "make demo: shipdeck exited $$code" >&2; exit $$code ;; esac

test: $(STAMP)
	bash scripts/install-test-services.sh
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/notes_speed.py
	$(BIN)/python benchmarks/cockpit_watch.py
	$(BIN)/python benchmarks/cockpit_first_frame.py
	$(BIN)/python benchmarks/cockpit_wire.py  # starts its own sshd on loopback; installs openssh-server as root
	$(BIN)/python benchmarks/datadog_requests.py
	$(BIN)/python benchmarks/rollback_time.py

clean:
	rm -rf $(VENV) build *.egg-info
