# The two commands of the README (both compile the translations first):
#   make run    set up and serve the app with demo data on http://127.0.0.1:$PORT/,
#               with one delivery worker (mail, webhooks) beside gunicorn
#   make test   set up and run the whole test suite
# Both create .venv and install requirements on first use. Without DATABASE_URL,
# a private PostgreSQL cluster is kept under var/pg (`make stop` stops it).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(PY) -m flask --app booking
VAR    := $(or $(VAR_DIR),var)
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# The gettext catalogues (German, French): .po in git, .mo compiled here (make translations).
TRANSLATIONS := booking/translations
CATALOGS     := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED     := $(CATALOGS:.po=.mo)

.PHONY: run test bench stop chromium nginx clean translations messages

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

# Compile each catalogue whose .po changed (Babel's pybabel; fuzzy entries are left out).
translations: $(COMPILED)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	@$(VENV)/bin/pybabel compile --statistics -l $* -i $< -o $@

# After changing user-facing text: extract every marked string (babel.cfg) into
# messages.pot and merge it into each language's .po; then translate what is new
# or fuzzy there (tests/test_translations.py fails until every entry is done).
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy -k lazy_plural:1,2 --no-location \
	  --sort-output --project=booking --copyright-holder=booking -o $(TRANSLATIONS)/messages.pot .
	$(VENV)/bin/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete

run: $(STAMP) translations
	@if [ -z "$$DATABASE_URL" ]; then \
	  echo "Starting the private PostgreSQL cluster in $(VAR)/pg ..."; \
	  $(PY) -m booking.localpg start $(VAR)/pg booking > /dev/null; \
	fi
	@$(FLASK) db upgrade
	@$(FLASK) demo --if-empty
	@echo ""
	@echo "  booking is running at http://127.0.0.1:$${PORT:-8000}/"
	@echo "  Sign in as admin@example.com (or alice@example.com), password: demo-password"
	@echo "  Mail goes to $(VAR)/mail/*.eml unless SMTP_URL is set."
	@echo "  Stop with Ctrl-C; 'make stop' also stops the database."
	@echo ""
	@# The delivery worker runs beside gunicorn; Ctrl-C stops both (the worker cleanly).
	@$(FLASK) worker & worker=$$!; \
	  trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(VENV)/bin/gunicorn -c gunicorn.conf.py

stop:
	@if [ -x $(PY) ]; then $(PY) -m booking.localpg stop $(VAR)/pg; fi

test: $(STAMP) translations chromium nginx
	$(PY) -m pytest -n auto --maxprocesses 4

# The benchmark suite (see bench/run.py): a million bookings, wrk against gunicorn,
# figures and targets written to docs/performance.md. BENCH_SECONDS=20 per scenario.
# Then the release sweep: 10,000 due bookings released (bench/release.py).
bench: $(STAMP)
	$(PY) -m bench.run; status=$$?; $(PY) -m bench.release && exit $$status

# The browser test drives Debian's Chromium; install it when apt can.
chromium:
	@if ! command -v chromium > /dev/null; then \
	  if command -v apt-get > /dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser test ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	  elif command -v apt-get > /dev/null && command -v sudo > /dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	  else \
	    echo "No apt here: the browser test will be skipped and say why."; \
	  fi; \
	fi

# The proxy test runs the production nginx config (deploy/nginx/booking.conf) with
# Debian's nginx, as an unprivileged foreground process; install it when apt can.
nginx:
	@if ! command -v nginx > /dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if command -v apt-get > /dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's nginx for the proxy test ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx > /dev/null; \
	  elif command -v apt-get > /dev/null && command -v sudo > /dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx > /dev/null; \
	  else \
	    echo "No apt here: the proxy test will be skipped and say why."; \
	  fi; \
	fi

clean: stop
	rm -rf $(VENV) $(VAR) $(COMPILED)
