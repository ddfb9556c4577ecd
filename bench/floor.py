"""The floor: the day view's SQL behind a bare Flask endpoint, nothing else.

Same pool settings as the application (autocommit, dict rows, pool size per
worker), no authentication, logging, ETag or templates. `make bench` runs it
beside the real app; the gap between the two is the price of our stack.

    gunicorn -c gunicorn.conf.py bench.floor:app
"""

from datetime import date

from flask import Flask, jsonify, request

from booking import config, db
from booking.rooms.service import DAY_SQL

app = Flask(__name__)
app.config.update(config.load())
pool = db.make_pool(app.config)


@app.get("/floor/rooms/<int:room_id>/bookings")
def day(room_id: int):
    if pool.closed:
        pool.open(wait=False)
    with pool.connection() as conn:
        row = conn.execute(DAY_SQL, {"room": room_id, "day": date.fromisoformat(request.args["date"]),
                                     "now": None, "buffers": False}).fetchone()
    bookings = row.pop("bookings")
    return jsonify(room=row, date=row.pop("date").isoformat(), bookings=bookings)
