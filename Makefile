# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-postgres lint security format bench clean vendor-js

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m config.localenv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py run_demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Security lint and known-vulnerable dependencies (also in .ci/run; see SECURITY.md).
security: $(STAMP)
	$(BIN)/bandit -q -c pyproject.toml -r config connectors integrations mappings
	$(BIN)/python .ci/pip_audit.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The console's charting library, from the npm registry into our static files (no CDN); see
# integrations/static/integrations/vendor/chartjs/README.md. Update the README's sums after.
CHARTJS_VERSION ?= 4.6.1
CHARTJS_DIR := integrations/static/integrations/vendor/chartjs
vendor-js:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null \
		&& tar xzf chart.js-$(CHARTJS_VERSION).tgz) \
		&& cp $$tmp/package/dist/chart.umd.min.js $$tmp/package/LICENSE.md $(CHARTJS_DIR)/ \
		&& sha256sum $$tmp/chart.js-$(CHARTJS_VERSION).tgz $(CHARTJS_DIR)/chart.umd.min.js \
			$(CHARTJS_DIR)/LICENSE.md; rm -rf $$tmp

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache
