"""The plainest floor: a bare Flask endpoint running one plain day query.

Issue 14's acceptance floor, plainer than bench/floor.py (which runs the day
view's own statement): a Flask app with one route, 4 sync gunicorn workers
(gunicorn.conf.py), a ConnectionPool in autocommit, and

    select id, start_at, end_at, title from bookings
     where room_id = %s and start_at >= %s and start_at < %s and cancelled_at is null
     order by start_at

for the UTC day, the rows returned through jsonify. No authentication, log
line, metrics, ETag, gzip or templates: what a request costs with nothing of
ours around it.

    gunicorn -c gunicorn.conf.py bench.floor_plain:app
"""

from datetime import date, datetime, time, timedelta, timezone

from flask import Flask, jsonify, request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from booking import config

SQL = """select id, start_at, end_at, title from bookings
 where room_id = %s and start_at >= %s and start_at < %s and cancelled_at is null
 order by start_at"""

app = Flask(__name__)
settings = config.load()
pool = ConnectionPool(settings["DATABASE_URL"], open=False, min_size=settings["POOL_MIN_SIZE"],
                      max_size=settings["POOL_MAX_SIZE"],
                      kwargs={"autocommit": True, "row_factory": dict_row})


@app.get("/plain/rooms/<int:room_id>/bookings")
def day(room_id: int):
    if pool.closed:
        pool.open(wait=False)
    start = datetime.combine(date.fromisoformat(request.args["date"]), time(), timezone.utc)
    with pool.connection() as conn:
        rows = conn.execute(SQL, (room_id, start, start + timedelta(days=1))).fetchall()
    return jsonify(rows)
