#!/usr/bin/python3
"""Web servers of make dataset (dist/dataset.sh), in the victim namespace.

    dataset-web.py site DIR         a small generated site (wget -r, curl)
    dataset-web.py basic PORT       HTTP basic auth (hydra http-get)
    dataset-web.py sqli PORT        an injectable query (sqlmap)

site writes DIR and exits. basic answers 401 to any credentials but
admin:letmein-7d3f (not in hydra's list: every attempt fails). sqli serves
GET /item?id=N from an in-memory SQLite table with the id pasted into the
SQL text (deliberately injectable; errors go back in the page, as careless
applications do). Test traffic only: both bind 0.0.0.0 inside a namespace
that has only 198.18.0.0/16 addresses.
"""
import base64
import os
import random
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

WORDS = ("packet flow window kernel driver socket buffer route bridge namespace "
         "capture filter signature threshold sample alert verdict table entry").split()


def site(d):
    rnd = random.Random(1)
    os.makedirs(os.path.join(d, "img"), exist_ok=True)
    pages = [f"page{i:02d}.html" for i in range(40)]
    for i, p in enumerate(pages):
        links = " ".join(f'<a href="{q}">{q}</a>' for q in rnd.sample(pages, 5))
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(50, 3000)))
        img = f"img/i{i % 12:02d}.bin"
        with open(os.path.join(d, p), "w") as f:
            f.write(f"<html><head><title>{p}</title></head><body><p>{text}</p>"
                    f'<img src="{img}"><p>{links}</p></body></html>\n')
    for i in range(12):
        with open(os.path.join(d, "img", f"i{i:02d}.bin"), "wb") as f:
            f.write(rnd.randbytes(rnd.choice((800, 4000, 20000, 90000))))
    with open(os.path.join(d, "img", "big.bin"), "wb") as f:  # slowhttptest -X reads it
        f.write(rnd.randbytes(2 << 20))
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<html><body>" + " ".join(f'<a href="{p}">{p}</a>' for p in pages) + "</body></html>\n")


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body, headers=()):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(b)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)


class Basic(Quiet):
    good = "Basic " + base64.b64encode(b"admin:letmein-7d3f").decode()

    def do_GET(self):
        if self.headers.get("Authorization") == self.good:
            self.reply(200, "<html><body>welcome</body></html>\n")
            return
        self.reply(401, "<html><body>401 unauthorized</body></html>\n",
                   [("WWW-Authenticate", 'Basic realm="dataset"')])


DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.executescript("""
create table items (id integer primary key, name text, price real);
create table users (id integer primary key, login text, password text);
insert into users (login, password) values ('admin', 'x1'), ('guest', 'x2');
""")
DB.executemany("insert into items (name, price) values (?, ?)",
               [(f"item {i}", i * 1.5) for i in range(1, 30)])
LOCK = threading.Lock()


class SQLi(Quiet):
    def do_GET(self):
        u = urlparse(self.path)
        if u.path != "/item":
            self.reply(200, '<html><body><a href="/item?id=1">item 1</a> '
                            '<a href="/item?id=2">item 2</a></body></html>\n')
            return
        ident = parse_qs(u.query).get("id", ["1"])[0]
        try:
            with LOCK:
                rows = DB.execute("select name, price from items where id = " + ident).fetchall()
            body = "".join(f"<tr><td>{n}</td><td>{p}</td></tr>" for n, p in rows)
            self.reply(200, f"<html><body><table>{body}</table></body></html>\n")
        except Exception as e:  # the error in the page: error-based injection
            self.reply(500, f"<html><body>database error: {e}</body></html>\n")


def main():
    mode, arg = sys.argv[1], sys.argv[2]
    if mode == "site":
        site(arg)
        return
    handler = {"basic": Basic, "sqli": SQLi}[mode]
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", int(arg)), handler).serve_forever()


if __name__ == "__main__":
    main()
