"""gunicorn settings, for `make run`, the Dockerfile and the benchmarks.

Application settings live in booking/config.py; these are the server's.
Override any of them on the command line (`gunicorn -c gunicorn.conf.py --workers 4 ...`).
"""

import os
import shutil
import tempfile

wsgi_app = "wsgi:app"
bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")

# Chosen by measurement (docs/performance.md, "Server settings compared"): sync
# workers, two per core. A request is a few milliseconds of Python around one
# or two short statements, so threads in one process mostly wait for each
# other's GIL: on 2 cores, 4 sync workers gave the mixed scenario 17-54% more
# throughput than 2 gthread workers × 8 threads and about half the p99.
# Sync workers do not keep connections alive and give a slow client a whole
# worker: in production put a buffering reverse proxy (nginx) in front, as
# gunicorn's own documentation says. WORKER_CLASS=gthread with THREADS
# (keep POOL_MAX_SIZE at least THREADS) suits serving without such a proxy.
worker_class = os.environ.get("WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
threads = int(os.environ.get("THREADS", "8")) if worker_class == "gthread" else 1

timeout = 30
graceful_timeout = 20           # SIGTERM: in-flight requests get this long to finish
keepalive = 5
accesslog = None                # booking logs every request itself, with SQL figures
errorlog = "-"
control_socket_disable = True   # gunicorn 27 would share ~/.gunicorn/gunicorn.ctl between instances
# The app alone decides whether to believe X-Forwarded-Proto (its TRUSTED_PROXIES
# setting); gunicorn would otherwise take it from any local client.
secure_scheme_headers = {}

# Files written on every request live in memory where the system has it
# (/dev/shm), not on a disk that journals each write: the workers' heartbeat
# (gunicorn touches a file per request) and the metrics' memory-mapped files.
_memory = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
worker_tmp_dir = _memory

# Prometheus figures from every worker meet in one directory (booking/metrics.py).
# It must be set before a worker imports prometheus_client, and be fresh for
# each server: figures of a previous run would be added in.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="booking-metrics-",
                                                              dir=_memory)


def on_starting(server):
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(metrics_dir, exist_ok=True)
    for name in os.listdir(metrics_dir):
        os.remove(os.path.join(metrics_dir, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
