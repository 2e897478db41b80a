#!/usr/bin/env python3
"""Loopback-only helpers for bench/soak.sh, bench/hostile.sh and bench/scale.sh (standard library
only).

  loopback.py silent PORT_FILE        accept connections and never answer (a hung service);
                                      each is closed when its client closes it
  loopback.py http PORT_FILE          answer GET /health with 200 and a small JSON body
  loopback.py idle PORT N SECONDS     open N connections to 127.0.0.1:PORT, send the start of a
                                      request line on each and nothing more, hold them for at
                                      most SECONDS; prints how many the server closed, and when
  loopback.py oversized PORT N        send N requests with a 64 KiB head and N announcing a
                                      100 MiB body; prints the count of each status answered
  loopback.py probes PORT PATH RATE SECONDS
                                      GET http://127.0.0.1:PORT/PATH at RATE requests a second,
                                      evenly paced, for SECONDS (RATE * SECONDS requests in all),
                                      over keep-alive connections; an answer is good when it is
                                      200 and holds "probe_success 1" (a blackbox_exporter probe);
                                      prints probes, failures and the first failure

Servers bind 127.0.0.1 on a free port and write it to PORT_FILE. Nothing here talks to any
address other than 127.0.0.1.
"""

import http.client
import http.server
import json
import selectors
import socket
import sys
import threading
import time


def write_port(sock, port_file):
    with open(port_file, "w") as f:
        f.write(str(sock.getsockname()[1]))


def read_or_close(sel, conn):
    """Reads and drops what arrived on a readable socket; closes it at end of stream or reset."""
    try:
        data = conn.recv(65536)
    except (BlockingIOError, ConnectionError):
        data = b""
    if data:
        return False
    sel.unregister(conn)
    conn.close()
    return True


def silent(port_file):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.setblocking(False)
    write_port(listener, port_file)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
            else:
                # The client wrote or closed: read and drop, close on EOF. Never answer.
                read_or_close(sel, key.fileobj)


class Health(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"status": "ok"}).encode() if self.path == "/health" else b"not found\n"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def http_server(port_file):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.daemon_threads = True
    write_port(server.socket, port_file)
    server.serve_forever()


def idle(port, n, seconds):
    """Slowloris: N connections each sending a partial request line, then nothing."""
    sel = selectors.DefaultSelector()
    opened = 0
    failed = 0
    start = time.monotonic()
    for _ in range(n):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            failed += 1
            s.close()
            continue
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        opened += 1
    print(f"idle_opened={opened} idle_connect_failed={failed} idle_open_seconds={time.monotonic() - start:.2f}", flush=True)
    open_now = opened
    first_close = None
    deadline = time.monotonic() + seconds
    while open_now and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            if read_or_close(sel, key.fileobj):
                open_now -= 1
                if first_close is None:
                    first_close = time.monotonic() - start
    elapsed = time.monotonic() - start
    print(f"idle_closed_by_server={opened - open_now} idle_still_open={open_now} "
          f"idle_first_close_seconds={first_close if first_close is None else round(first_close, 2)} "
          f"idle_all_closed_seconds={round(elapsed, 2) if open_now == 0 else None}", flush=True)


def answer_status(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
    parts = answer.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else "none"


def oversized(port, n):
    # Exactly the server's 64 KiB head buffer, never finished: all of it is read, so the close
    # after the answer is not a reset that could swallow the answer.
    head = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
    head += b"a" * (64 * 1024 - len(head))
    body = b"POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 104857600\r\n\r\nstart"
    for name, request in (("head", head), ("body", body)):
        counts = {}
        for _ in range(n):
            status = answer_status(port, request)
            counts[status] = counts.get(status, 0) + 1
        print(f"oversized_{name}_statuses=" + ",".join(f"{k}:{v}" for k, v in sorted(counts.items())), flush=True)


def probes(port, path, rate, seconds):
    """Drives a blackbox_exporter at a fixed probe rate, as Prometheus scraping N targets would."""
    total = int(rate * seconds)
    lock = threading.Lock()
    state = {"next": 0, "failures": 0, "first_failure": None}
    start = time.monotonic()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                k = state["next"]
                state["next"] += 1
            if k >= total:
                break
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request("GET", path)
                answer = conn.getresponse()
                body = answer.read()
                good = answer.status == 200 and b"\nprobe_success 1\n" in body
                why = f"status {answer.status}, body starts {body[:200]!r}"
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                good, why = False, repr(e)
            if not good:
                with lock:
                    state["failures"] += 1
                    if state["first_failure"] is None:
                        state["first_failure"] = why
        conn.close()

    workers = [threading.Thread(target=worker) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"probes={total} failures={state['failures']} seconds={time.monotonic() - start:.1f} "
          f"first_failure={state['first_failure']!r}", flush=True)
    return 1 if state["failures"] else 0


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "silent":
        silent(sys.argv[2])
    elif mode == "http":
        http_server(sys.argv[2])
    elif mode == "oversized":
        oversized(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "probes":
        sys.exit(probes(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
    else:
        sys.exit(__doc__)
