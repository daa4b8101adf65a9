# Linli — two commands: `make run` brings the platform up, `make test` proves it.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
PACKAGES := service-kit gateway booking-service procurement-service provider-registry feedback-service

.PHONY: install run test test-postgres lint format bench check-images clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml */pyproject.toml
	$(UV) sync --frozen --all-packages --compile-bytecode
	@touch $@

install: .venv/.synced

run: install
	$(UV) run --frozen python deploy/devstack.py $(ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy service-kit gateway booking-service procurement-service provider-registry feedback-service deploy
	@# Each package declares every third-party package its code imports, and nothing it does not (deptry, from the
	@# package's folder: its pyproject.toml, its excludes).
	@status=0; for package in $(PACKAGES); do \
		echo "deptry $$package"; (cd $$package && $(CURDIR)/.venv/bin/deptry .) || status=1; \
	done; exit $$status

format: install
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

# Three pytest-xdist workers on two cores: whole-stack tests spend much of their time waiting on the stack's own
# processes, and a third worker fills it. Each module stays on one worker (its module-scoped stacks start once).
# PostgreSQL gets two: every worker's stacks hold connections, and the server allows 100.
TEST_WORKERS ?= 3
PG_TEST_WORKERS ?= 2
# The slowest tests are listed at the end of every run: where the time goes is read from CI logs, not guessed.
PYTEST = $(UV) run --frozen pytest --dist loadscope --durations=25

# The linters run beside the suite (they take one core for about 20 s while the first stacks start); their
# report follows the suite's, and either failing fails the target.
test: install
	@mkdir -p var
	@$(MAKE) --no-print-directory lint > var/lint.log 2>&1 & lint=$$!; \
	$(PYTEST) -n $(TEST_WORKERS) $(ARGS); status=$$?; \
	wait $$lint; lint_status=$$?; echo "== lint (ruff, mypy, deptry) =="; cat var/lint.log; \
	[ $$lint_status -eq 0 ] || { echo "lint failed"; status=1; }; exit $$status

# The service and whole-stack suites again, each service on a fresh PostgreSQL database.
test-postgres: install
	LINLI_TEST_POSTGRES_URL=$${LINLI_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432} \
		$(PYTEST) -n $(PG_TEST_WORKERS) $(ARGS)

# `make bench ARGS=--quick`: every part at a reduced scale in under 3 minutes, indicative figures for development.
bench: install
	$(UV) run --frozen python tests/bench/run.py $(ARGS)
	$(UV) run --frozen python provider-registry/scripts/bench_circle.py $(filter --quick,$(ARGS))

# Each service installed alone from its production dependencies (as its image is), imported, migrated, started:
# /livez and /readyz answer 200.
check-images: install
	$(UV) run --frozen python deploy/check_images.py $(ARGS)

clean:
	rm -rf var .venv $(TOOLS)
