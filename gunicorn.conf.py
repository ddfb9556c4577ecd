"""gunicorn settings, for `make run`, the Dockerfile and the benchmarks.

Application settings live in booking/config.py; these are the server's.
Override any of them on the command line (`gunicorn -c gunicorn.conf.py --workers 4 ...`).
"""

import os

wsgi_app = "wsgi:app"
bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")

# Threads per worker share one pool per worker, so POOL_MAX_SIZE (default 8)
# matches `threads`: a thread never waits for a connection another one holds.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("THREADS", "8"))

timeout = 30
graceful_timeout = 20           # SIGTERM: in-flight requests get this long to finish
keepalive = 5
accesslog = None                # booking logs every request itself, with SQL figures
errorlog = "-"
control_socket_disable = True   # gunicorn 27 would share ~/.gunicorn/gunicorn.ctl between instances
# The app alone decides whether to believe X-Forwarded-Proto (its TRUSTED_PROXIES
# setting); gunicorn would otherwise take it from any local client.
secure_scheme_headers = {}
