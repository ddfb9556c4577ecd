"""/metrics: what Prometheus scrapes, from one process and from every gunicorn worker."""

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text, name, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


DAY_RULE = "/api/rooms/<id:room_id>/bookings"


def test_requests_are_counted_by_route_and_status(client, api_as, alice, berlin):
    api = api_as(alice)
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        assert api.get(f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02").status_code == 200
    assert api.get("/api/rooms/999999/bookings?date=2027-03-02").status_code == 404
    after = client.get("/metrics")
    assert after.status_code == 200 and after.mimetype == "text/plain"
    text = after.get_data(as_text=True)
    labels = dict(method="GET", route=DAY_RULE)
    for status, count in (("200", 3), ("404", 1)):
        grown = (value(text, "booking_requests_total", status=status, **labels)
                 - value(before, "booking_requests_total", status=status, **labels))
        assert grown == count, status
        grown = (value(text, "booking_request_duration_seconds_count", status=status, **labels)
                 - value(before, "booking_request_duration_seconds_count", status=status, **labels))
        assert grown == count, status
    # The day view is authentication plus one read: two statements each time.
    def at_most_two(t):
        return value(t, "booking_sql_statements_per_request_bucket", route=DAY_RULE, le="2.0")
    assert at_most_two(text) - at_most_two(before) == 4
    assert "booking_pool_connections" in text and "booking_pool_timeouts_total" in text


def test_only_allowed_addresses_read_the_metrics(client, app):
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert far.status_code == 404
    app.config["METRICS_ALLOWED"] = "203.0.113.0/24"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    assert client.get("/metrics").status_code == 404  # 127.0.0.1 is no longer in


def test_gunicorn_workers_add_up(live_server, make, alice, berlin):
    """Two workers, 40 requests: every scrape, whichever worker answers it, counts all 40."""
    token = make.token(alice)
    url = f"{live_server.url}/api/rooms/{berlin['id']}/bookings?date=2027-03-02"
    for _ in range(40):
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    for _ in range(6):
        with urllib.request.urlopen(live_server.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        assert value(text, "booking_requests_total", method="GET", route=DAY_RULE,
                     status="200") == 40
    assert value(text, "booking_pool_connections") >= 1
