"""Ingest benchmark: 10,000 folder articles, and 200 upstream feeds (90% answering 304).

Each measurement runs in a fresh process, so peak memory (ru_maxrss) is that run's own.
Prints the median wall time of several runs, peak memory, and the ratio to a peer
measured in the same run:

* folder: the peer is a minimal hand-rolled ingest (python-frontmatter + markdown-it +
  sqlite3 executemany, no cleaning, no ids, no change detection): the floor of the work.
* feeds: the peer is the ``reader`` library (lemon24/reader), a maintained feed reader
  that also does conditional GET and stores entries in SQLite.

Usage: python bench/ingest.py [--runs 5] [--articles 10000] [--feeds 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve()
FEED_ITEMS = 20


# --- data --------------------------------------------------------------------------------

SECTIONS = ["World", "Economy", "Science", "Culture", "Technology"]
WORDS = [
    *[
        "harbour",
        "ministers",
        "tariff",
        "orbit",
        "lithium",
        "archive",
        "festival",
        "grid",
        "treaty",
        "satellite",
    ],
    *[
        "coral",
        "copper",
        "rent",
        "dockworkers",
        "vaccine",
        "fusion",
        "cables",
        "fisheries",
        "referendum",
    ],
]


def make_articles(folder: Path, count: int) -> None:
    """Write ``count`` Markdown articles with full front matter."""
    for i in range(count):
        section = SECTIONS[i % len(SECTIONS)]
        words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(12)]
        body = "\n\n".join(
            " ".join(words[k:] + words[:k]).capitalize() + ". " * 3 + f"[link](/a/{k})"
            for k in range(6)
        )
        sub = folder / section.lower()
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"article-{i:05d}.md").write_text(
            textwrap.dedent(
                f"""\
                ---
                id: bench-{i:05d}
                title: "Article {i}: {words[0].title()} and {words[1]}…"
                dek: "A short summary of article {i}, about {words[2]} and {words[3]}."
                section: {section}
                tags: [{words[4]}, {words[5]}]
                authors:
                  - name: Writer {i % 37}
                    bio: "Writer {i % 37} covers {words[6]}."
                image:
                  url: /images/{i}.jpg
                  alt: "Picture {i}"
                  credit: "Agency/Photo"
                  caption: "Caption {i}"
                published: 2026-{1 + i % 11:02d}-{1 + i % 27:02d}T09:00:00Z
                ---
                """
            )
            + body
            + "\n",
            encoding="utf-8",
        )


# --- feed server (its own process, so it does not share our GIL) ---------------------------


def serve_feeds(port_file: str, feeds: int) -> None:
    """Serve ``/feed/<n>.xml``; POST /advance changes every tenth feed (10% of polls)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    version = [0] * feeds
    round_no = [0]

    def render(n: int) -> bytes:
        items = "".join(
            f"<item><title>Feed {n} story {k} v{version[n]}</title>"
            f"<link>http://127.0.0.1/feed/{n}/{k}</link><guid isPermaLink='false'>f{n}-{k}</guid>"
            f"<description>Summary {k} of feed {n}, version {version[n]}.</description>"
            f"<pubDate>Wed, 0{1 + k % 9} Nov 2026 10:00:00 GMT</pubDate></item>"
            for k in range(FEED_ITEMS)
        )
        return (
            f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Feed {n}</title><link>http://127.0.0.1/</link><description>d</description>"
            f"{items}</channel></rss>"
        ).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            round_no[0] += 1
            for n in range(feeds):
                if n % 10 == round_no[0] % 10:
                    version[n] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            n = int(self.path.split("/")[2].split(".")[0])
            etag = f'"{n}-{version[n]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = render(n)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


# --- one measurement per process ---------------------------------------------------------


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_syndicate_folder(workdir: Path) -> dict[str, float]:
    from syndicate.config import Settings, SourceConfig
    from syndicate.ingest.run import ingest
    from syndicate.store import open_store

    settings = Settings(
        sources=(SourceConfig(name="bench", kind="folder", path="content"),),  # type: ignore[call-arg]
        base_dir=workdir,
    )
    db = workdir / f"syn-{os.getpid()}.db"
    store = open_store(f"sqlite:///{db}")
    start = time.perf_counter()
    (cold,) = ingest(store, settings)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    (warm,) = ingest(store, settings)
    warm_s = time.perf_counter() - start
    assert cold.new > 0 and warm.unchanged == cold.new, (cold, warm)
    return {"cold": cold_s, "warm": warm_s, "peak_mib": peak_mib(), "articles": cold.new}


def one_peer_folder(workdir: Path) -> dict[str, float]:
    import sqlite3

    import frontmatter
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True})
    db = sqlite3.connect(workdir / f"peer-{os.getpid()}.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE a (id TEXT PRIMARY KEY, title TEXT, meta TEXT, body TEXT)")
    start = time.perf_counter()
    rows = []
    for path in sorted((workdir / "content").rglob("*.md")):
        post = frontmatter.load(path)
        rows.append(
            (
                str(post["id"]),
                post["title"],
                json.dumps(post.metadata, default=str),
                md.render(post.content),
            )
        )
    db.executemany("INSERT OR REPLACE INTO a VALUES (?, ?, ?, ?)", rows)
    db.commit()
    cold_s = time.perf_counter() - start
    return {"cold": cold_s, "warm": cold_s, "peak_mib": peak_mib(), "articles": len(rows)}


def _advance(port: int) -> None:
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{port}/advance", method="POST")
    ).read()


def one_syndicate_feeds(workdir: Path, port: int, feeds: int) -> dict[str, float]:
    from syndicate.config import Settings, SourceConfig
    from syndicate.ingest.run import ingest
    from syndicate.store import open_store

    configs = tuple(
        SourceConfig(  # type: ignore[call-arg]
            name=f"f{n}",
            kind="feed",
            url=f"http://127.0.0.1:{port}/feed/{n}.xml",
            allow_private=True,
        )
        for n in range(feeds)
    )
    settings = Settings(sources=configs, base_dir=workdir)
    store = open_store(f"sqlite:///{workdir / f'synf-{os.getpid()}.db'}")
    start = time.perf_counter()
    reports = ingest(store, settings)
    cold_s = time.perf_counter() - start
    assert not any(r.failed for r in reports), [r.error for r in reports if r.failed][:3]
    _advance(port)
    start = time.perf_counter()
    reports = ingest(store, settings)
    warm_s = time.perf_counter() - start
    not_modified = sum(r.not_modified for r in reports)
    assert not any(r.failed for r in reports)
    return {"cold": cold_s, "warm": warm_s, "peak_mib": peak_mib(), "not_modified": not_modified}


def one_peer_feeds(workdir: Path, port: int, feeds: int) -> dict[str, float]:
    from reader import make_reader

    reader = make_reader(str(workdir / f"reader-{os.getpid()}.sqlite"))
    for n in range(feeds):
        reader.add_feed(f"http://127.0.0.1:{port}/feed/{n}.xml")
    start = time.perf_counter()
    reader.update_feeds(scheduled=False)  # poll every feed, as `syndicate ingest` does
    cold_s = time.perf_counter() - start
    _advance(port)
    start = time.perf_counter()
    reader.update_feeds(scheduled=False)  # poll every feed, as `syndicate ingest` does
    warm_s = time.perf_counter() - start
    entries = reader.get_entry_counts().total
    return {"cold": cold_s, "warm": warm_s, "peak_mib": peak_mib(), "entries": entries}


# --- driver ------------------------------------------------------------------------------


def measure(kind: str, workdir: Path, *extra: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(HERE), "--one", kind, "--workdir", str(workdir), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summarise(name: str, runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "cold": statistics.median(r["cold"] for r in runs),
        "warm": statistics.median(r["warm"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
    }


def report(title: str, ours: dict[str, float], peer: dict[str, float], peer_name: str) -> None:
    print(f"\n{title}")
    print(f"  {'':24}{'cold (s)':>10}{'warm (s)':>10}{'peak MiB':>10}")
    for label, row in (("syndicate", ours), (peer_name, peer)):
        print(f"  {label:24}{row['cold']:>10.3f}{row['warm']:>10.3f}{row['peak_mib']:>10.1f}")
    print(
        f"  ratio syndicate/{peer_name}: cold {ours['cold'] / peer['cold']:.2f}x, "
        f"warm {ours['warm'] / peer['warm']:.2f}x, "
        f"memory {ours['peak_mib'] / peer['peak_mib']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--only", choices=["folder", "feeds"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        table = {
            "syndicate-folder": lambda: one_syndicate_folder(args.workdir),
            "peer-folder": lambda: one_peer_folder(args.workdir),
            "syndicate-feeds": lambda: one_syndicate_feeds(args.workdir, args.port, args.feeds),
            "peer-feeds": lambda: one_peer_feeds(args.workdir, args.port, args.feeds),
        }
        print(json.dumps(table[args.one]()))
        return

    work = Path(tempfile.mkdtemp(prefix="syndicate-bench-"))
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.runs} runs each")
        if args.only in (None, "folder"):
            make_articles(work / "content", args.articles)
            ours = [measure("syndicate-folder", work) for _ in range(args.runs)]
            peer = [measure("peer-folder", work) for _ in range(args.runs)]
            report(
                f"folder: {args.articles} Markdown articles "
                "(cold = first ingest, warm = all unchanged)",
                summarise("syndicate", ours),
                summarise("peer", peer),
                "frontmatter+sqlite3",
            )
        if args.only in (None, "feeds"):
            port_file = work / "port"
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    f"import sys; sys.path.insert(0, {str(HERE.parent)!r}); import ingest; "
                    f"ingest.serve_feeds({str(port_file)!r}, {args.feeds})",
                ],
            )
            try:
                for _ in range(100):
                    if port_file.exists() and port_file.read_text():
                        break
                    time.sleep(0.05)
                port = port_file.read_text()
                extra = ("--port", port, "--feeds", str(args.feeds))
                ours = [measure("syndicate-feeds", work, *extra) for _ in range(args.runs)]
                peer = [measure("peer-feeds", work, *extra) for _ in range(args.runs)]
            finally:
                server.terminate()
                server.wait()
            report(
                f"feeds: {args.feeds} feeds x {FEED_ITEMS} items "
                "(cold = first poll, warm = 90% answer 304)",
                summarise("syndicate", ours),
                summarise("peer", peer),
                "reader",
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
