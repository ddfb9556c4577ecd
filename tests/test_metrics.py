"""/metrics: what Prometheus scrapes, from one process and from every gunicorn worker."""

import shutil
import tempfile
import urllib.request
from collections import defaultdict
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from conftest import LiveServer, tomorrow_at


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


def per_worker(metrics_dir: Path) -> dict[int, str]:
    """Each gunicorn worker's own figures, by pid: prometheus-client keeps one file
    per metric kind and process (counter_<pid>.db, ...); read alone, a process's
    files give what that process counted."""
    files: dict[int, list[Path]] = defaultdict(list)
    for path in metrics_dir.glob("*.db"):
        files[int(path.stem.rsplit("_", 1)[1])].append(path)
    found = {}
    for pid, paths in files.items():
        with tempfile.TemporaryDirectory() as alone:
            for path in paths:
                shutil.copy(path, alone)
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=alone)
            found[pid] = generate_latest(registry).decode()
    return found


def get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=30) as response:
        return response.status, response.read().decode()


def test_gunicorn_workers_add_up(database_url, tmp_path, make, alice, berlin):
    """Two workers: each one serves some of the requests and answers some of the
    scrapes (shown by its own files), and every scrape, whichever worker answers
    it, counts all the requests."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = LiveServer(database_url, tmp_path, workers=2,
                        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    token = make.token(alice)
    day = tomorrow_at("Europe/Berlin", 10).date()      # gunicorn runs on the real clock
    url = f"{server.url}/api/rooms/{berlin['id']}/bookings?date={day}"
    day_views = dict(method="GET", route=DAY_RULE, status="200")
    scrapes = dict(method="GET", route="/metrics", status="200")

    def workers_that_counted(labels) -> set[int]:
        return {pid for pid, text in per_worker(metrics_dir).items()
                if value(text, "booking_requests_total", **labels) > 0}

    try:
        # Which worker takes a connection is up to the kernel: ask until both
        # have served some (a few requests nearly always do).
        sent = 0
        while sent < 40 or len(workers_that_counted(day_views)) < 2:
            assert sent < 2000, "one worker served every request: not two workers at work"
            assert get(url, token)[0] == 200
            sent += 1
        scraped = 0
        while scraped < 6 or len(workers_that_counted(scrapes)) < 2:
            assert scraped < 2000, "one worker answered every scrape"
            status, text = get(server.url + "/metrics")
            scraped += 1
            assert status == 200
            assert value(text, "booking_requests_total", **day_views) == sent
        # Each worker noted its pool when it answered a scrape: the gauge is their sum.
        assert value(text, "booking_pool_connections") >= 2
        counted = per_worker(metrics_dir)
        assert len(counted) == 2
        assert sum(value(t, "booking_requests_total", **day_views) for t in counted.values()) \
            == sent
    finally:
        server.stop()
