"""schemathesis against the app: for every operation of /api/openapi.json, generated
requests (valid and invalid) never get a 5xx, and every answer matches the document
(status code, content type, headers, body schema). Invalid input must be refused.

It runs through the WSGI app of the test fixture (the same code gunicorn serves),
as an admin with a bearer token, in a database with rooms, bookings and a series.
Each operation gets a fresh database and a bounded number of examples.
"""

import os
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               negative_data_rejection,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from booking.openapi.spec import document
from conftest import UTC

schema = schemathesis.openapi.from_dict(document())

# Fixed examples by default, so the suite is repeatable; to go hunting, run
# SCHEMATHESIS_EXAMPLES=200 SCHEMATHESIS_RANDOM=1 pytest tests/test_schemathesis.py
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
RANDOM = bool(os.environ.get("SCHEMATHESIS_RANDOM"))

pytestmark = pytest.mark.filterwarnings(
    "ignore::hypothesis.errors.HypothesisDeprecationWarning")

# Everything a request could change, but the token's last use (recorded on each request).
STATE_SQL = """
SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM users t),
       (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM sessions t),
       (SELECT md5(coalesce(string_agg(concat_ws(',', t.id, t.name, t.revoked_at), '|'
                                       ORDER BY t.id), '')) FROM api_tokens t),
       (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM rooms t),
       (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM series t),
       (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM bookings t),
       (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM series_skips t)
"""

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture
def token(make, admin, alice, berlin, new_york, api_as):
    """An admin's bearer token, in a world with two rooms (ids 1 and 2), bookings, a series."""
    assert berlin["id"] == 1
    make.booking(berlin, alice, datetime(2027, 3, 2, 12, tzinfo=UTC),
                 datetime(2027, 3, 2, 13, tzinfo=UTC))
    make.booking(new_york, admin, datetime(2027, 3, 2, 15, tzinfo=UTC),
                 datetime(2027, 3, 2, 16, tzinfo=UTC))
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;COUNT=3",
        "start_time": "2027-03-03T10:00", "end_time": "2027-03-03T11:00"})
    assert made.status_code == 201
    return make.token(admin)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_answers_as_documented(case, app, token, conn):
    before = conn.execute(STATE_SQL).fetchone()
    # identity: the WSGI transport does not undo gzip the way an HTTP client does
    response = case.call_and_validate(
        app=app, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
        checks=CHECKS)
    if 400 <= response.status_code < 500:
        # A refused request changes nothing.
        assert conn.execute(STATE_SQL).fetchone() == before, case.as_curl_command()
