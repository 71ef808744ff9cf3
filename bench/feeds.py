"""Feed build benchmark: every channel of the example instance over stores of 2,000,
20,000 and 50,000 articles (``--sizes``).

Measures, each run in a fresh process (so peak memory, ru_maxrss, is that run's own):

* cold full build: an empty output folder, a store without stored feed picks or item
  fragments, an empty document cache and no related index snapshot (a store's first
  build): every channel, format, archive page, gzip;
* full build, fragments kept: an empty output folder over a store that has been built
  (every item's fragments stored), the document cache emptied: the documents are
  spliced and compressed, no item is rendered;
* full build, all kept: an empty output folder over a store that has been built and its
  document cache (``[output] cache_dir``): every document is linked from the cache;
* incremental build: the same output folder after one new article (each run adds one),
  apart for an article outside the ``related_in_content`` channel (World) and one in
  it, whose "More from" picks a new process must load the related index to choose
  (from its snapshot, ``[related] snapshot_dir``, and what changed since; the first
  such build after the cold one is reported apart);
* incremental build in a long-running process (the daemon's case): one process builds
  after each new World article, its related index kept in memory between builds;

and prints the median wall time of several runs, peak memory, the ratio to a peer
measured in the same run, and a profile of one cold and one incremental build by stage
(cumulative seconds under cProfile, so larger than the plain runs).

The peer is the floor of the work: a minimal feedgen-only build of the same documents
(same store query, feedgen with its defaults for RSS and Atom, json.dumps for JSON Feed,
a gzip copy, plain writes; no atomic writes, fsync, change detection, extensions or
fingerprints). A naive builder like the peer has no
incremental mode, so its full build is also the peer of the incremental build.

Usage: python bench/feeds.py [--sizes 2000,20000,50000] [--runs 3] [--incremental-runs 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
SECTIONS = ["World", "Economy", "Science", "Culture", "Technology"]
TAGS = ["energy", "climate", "trade", "elections", "space", "health", "ai", "music"]
T0 = datetime(2020, 1, 1, tzinfo=UTC)


# --- data --------------------------------------------------------------------------------


def make_instance(root: Path, count: int) -> Path:
    """The example instance's channels over a store of ``count`` generated articles."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "feeds", root / "feeds")
    (root / "syndicate.toml").write_text(
        '[site]\nname = "The Meridian Review"\nbase_url = "https://meridian.example"\n'
        'tag_authority = "meridian.example,2026"\n\n[store]\nurl = "sqlite:///store.db"\n'
    )
    from syndicate.config import load_settings
    from syndicate.store import open_store

    settings = load_settings(root / "syndicate.toml")
    store = open_store(settings.store_url)
    batch = []
    for i in range(count):
        batch.append(make_entry(i))
        if len(batch) == 1000:
            store.save_entries(batch, now=T0)
            batch = []
    if batch:
        store.save_entries(batch, now=T0)
    store.close()
    return root / "syndicate.toml"


def make_entry(i: int) -> Any:
    """Article ``i``: ~2.5 KB of HTML, a section, tags, two authors and a lead image."""
    from syndicate.ingest.content import content_hash
    from syndicate.models import Author, CleanEntry, Image

    base = "https://meridian.example"
    words = [TAGS[(i * 3 + k) % len(TAGS)] for k in range(8)]
    paragraph = (
        f"<p>{' '.join(words).capitalize()} — reporting from the harbour, ministers and "
        f'dockworkers met again on day {i}. <a href="{base}/notes/{i}">Background</a>, '
        "figures and “quotes” follow, as they do in every long-form article.</p>"
    )
    published = T0 + timedelta(minutes=20 * i)
    draft = CleanEntry(
        id=f"tag:meridian.example,2026:bench/article-{i:06d}",
        source="bench",
        url=f"{base}/articles/{i:06d}/",
        title=f"Article {i}: {words[0].title()} and {words[1]} after the vote",
        dek=f"What changed on day {i}, and what did not: a summary in one sentence.",
        body_html=paragraph * 10,
        authors=(Author("Ana Ruiz", url=f"{base}/authors/ana-ruiz"), Author("Li Wei")),
        section=SECTIONS[i % len(SECTIONS)],
        tags=tuple(dict.fromkeys(words[:3])),
        image=Image(f"{base}/img/{i}.jpg", alt=f"Photo for article {i}", credit="Desk"),
        published_at=published,
        updated_at=published,
        featured=False,
        content_hash="",
    )
    return dataclasses.replace(draft, content_hash=content_hash(draft))


# --- children: one measured build per process ----------------------------------------------


# What the profile summary reports: stage name → the function whose cumulative time it is.
STAGES = {
    "scan keys (no bodies)": "builder.py:_scan",
    "choose picks (related)": "picks.py:_choose",
    # Part of choosing picks on a store not yet indexed (ingest indexes after it saves;
    # the bench saves articles directly, so a cold build pays for it).
    "term vectors backfill (in choose picks)": "sync.py:sync_terms",
    "read fragments": "fragments.py:load_fragments",
    "read articles to render": "core.py:get_articles",
    "render items (feedgen)": "fragments.py:render_items",
    "store fragments": "fragments.py:save_fragments",
    "splice documents": "fragments.py:splice",
    "write files (+gzip)": "writer.py:write",
    "commit (fsync, rename)": "writer.py:commit",
    "link cached documents": "writer.py:link",
    "document cache upkeep": "doccache.py:collect",
    "page fingerprints": "archives.py:_fingerprint",
}


def child_syndicate(
    config: Path, output: Path, *, cold: bool, profile: bool = False, cache: bool = True
) -> dict[str, Any]:
    """Run syndicate's build; return its timing and what it did.

    ``cold``: start without stored feed picks, fragments or cached documents, so every
    ``related_in_content`` item's picks are chosen and every item rendered, as the
    first build of a store does. ``cache``: keep the document cache (otherwise it is
    emptied first). ``profile``: also the cumulative seconds of :data:`STAGES`.
    """
    import cProfile
    import pstats

    from syndicate.config import load_settings
    from syndicate.feeds.builder import build
    from syndicate.store import open_store

    settings = load_settings(config, {"output": {"dir": output}})
    store = open_store(settings.store_url)
    if cold:
        _forget(store, "feed_item_picks")
        _forget(store, "feed_fragments")
    if cold or not cache:
        shutil.rmtree(settings.resolve(settings.output.cache_dir), ignore_errors=True)
    if cold:  # a store's first build has no related index snapshot either
        shutil.rmtree(settings.resolve(settings.related.snapshot_dir), ignore_errors=True)
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = build(store, settings)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "seconds": seconds,
        "feeds_written": sum(v == "written" for c in report.channels for v in c.formats.values()),
        "pages": sum(c.archive_pages for c in report.channels),
        "pages_written": sum(c.archives_written for c in report.channels),
        "picks_chosen": sum(c.picks_chosen for c in report.channels),
        "items_rendered": sum(c.items_rendered for c in report.channels),
        "items_reused": sum(c.items_reused for c in report.channels),
    }
    if profiler is not None:
        stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        stages = dict.fromkeys(STAGES, 0.0)
        for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
            where = f"{Path(filename).name}:{function}"
            for stage, target in STAGES.items():
                if where == target:
                    stages[stage] += cumulative
        result["stages"] = stages
    return result


def _forget(store: Any, table: str) -> None:
    from sqlalchemy import inspect, text

    if table in inspect(store.engine).get_table_names():
        with store.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))


def child_peer(config: Path, output: Path) -> dict[str, Any]:
    """The floor: the same documents with plain feedgen + json, no care taken."""
    from syndicate.config import load_channels, load_settings
    from syndicate.store import open_store
    from syndicate.store.channels import iter_channel_articles

    settings = load_settings(config)
    store = open_store(settings.store_url)
    start = time.perf_counter()
    pages = 0
    for channel in load_channels(settings):
        articles = list(iter_channel_articles(store, channel))
        size = channel.items
        chunks = [("", articles[:size])]
        total = len(articles) // size
        for page in range(1, total + 1):
            chunk = articles[len(articles) - page * size : len(articles) - (page - 1) * size]
            chunks.append((f"/archive/{page}", chunk))
        pages += total
        for suffix, chunk in chunks:
            _peer_write(output / f"feeds/{channel.name}{suffix}", channel.title, chunk)
    return {"seconds": time.perf_counter() - start, "pages": pages}


def _peer_write(stem: Path, title: str, articles: list[Any]) -> None:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id("https://meridian.example/")
    fg.title(title)
    fg.link(href="https://meridian.example/")
    fg.description(title)
    for a in articles:
        entry = fg.add_entry(order="append")
        entry.id(a.id)
        entry.title(a.title)
        entry.link(href=a.url)
        entry.description(a.dek)
        entry.content(a.body_html, type="html")
        entry.published(a.published_at)
        entry.updated(a.updated_at)
    items = [
        {
            "id": a.id,
            "url": a.url,
            "title": a.title,
            "content_html": a.body_html,
            "date_published": a.published_at.isoformat(),
        }
        for a in articles
    ]
    stem.parent.mkdir(parents=True, exist_ok=True)
    outputs = {
        ".xml": fg.rss_str(pretty=True),
        ".atom": fg.atom_str(pretty=True),
        ".json": json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items},
            ensure_ascii=False,
            indent=2,
        ).encode(),
    }
    for ext, data in outputs.items():
        Path(f"{stem}{ext}").write_bytes(data)
        Path(f"{stem}{ext}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def measure(kind: str, config: Path, output: Path) -> dict[str, Any]:
    """Run one child process and return its result with its peak memory.

    ``kind``: ``peer``, ``cold``, ``spliced`` (picks and fragments kept, the document
    cache emptied) or ``warm`` (all kept), or one of those with ``-profile``.

    The disk's write-back is flushed first (``os.sync``): a run's fsyncs would otherwise
    wait behind the hundreds of megabytes an earlier cold run left dirty, and the
    figure would be that run's, not this one's.
    """
    os.sync()
    done = subprocess.run(
        [
            sys.executable,
            str(HERE),
            "--child",
            kind,
            "--config",
            str(config),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def child_resident(config: Path, output: Path, first: int, runs: int) -> dict[str, Any]:
    """The daemon's case: one process saves a new World article (the
    ``related_in_content`` channel's section) and builds, ``runs`` times after a first
    round that loads the related index; the median seconds of those builds."""
    from syndicate.config import load_settings
    from syndicate.feeds.builder import build
    from syndicate.store import open_store

    settings = load_settings(config, {"output": {"dir": output}})
    store = open_store(settings.store_url)
    seconds = []
    for k in range(runs + 1):
        n = first + 5 * k
        assert SECTIONS[n % len(SECTIONS)] == "World"
        store.save_entries([make_entry(n)], now=T0)
        start = time.perf_counter()
        report = build(store, settings)
        seconds.append(time.perf_counter() - start)
        assert sum(c.picks_chosen for c in report.channels) >= 1
    return {
        "seconds": statistics.median(seconds[1:]),
        "first": seconds[0],
        "last": first + 5 * runs,
    }


def add_article(config: Path, n: int) -> None:
    """Store one new article (newest of all), as an ingest between two builds would."""
    from syndicate.config import load_settings
    from syndicate.store import open_store

    settings = load_settings(config)
    store = open_store(settings.store_url)
    store.save_entries([make_entry(n)], now=T0)
    store.close()


# --- report ------------------------------------------------------------------------------


def summary(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """Median seconds and the largest peak memory (MB) of ``runs``."""
    return (
        statistics.median(r["seconds"] for r in runs),
        max(r["maxrss_kb"] for r in runs) / 1024,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000,50000", help="store sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--incremental-runs", type=int, default=5)
    parser.add_argument("--no-profile", action="store_true", help="skip the profile summary")
    parser.add_argument(
        "--child", help="peer, cold, spliced, warm (with -profile), resident:FIRST:RUNS"
    )
    parser.add_argument("--config", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.child:
        if args.child == "peer":
            result = child_peer(args.config, args.output)
        elif args.child.startswith("resident:"):
            _, first, count = args.child.split(":")
            result = child_resident(args.config, args.output, int(first), int(count))
        else:
            kind, _, profile = args.child.partition("-")
            result = child_syndicate(
                args.config,
                args.output,
                cold=kind == "cold",
                profile=bool(profile),
                cache=kind != "spliced",
            )
        result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(result))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        bench_size(args, size)


def bench_size(args: Any, count: int) -> None:
    """Every measurement over a store of ``count`` articles, then its report."""
    with tempfile.TemporaryDirectory(prefix="bench-feeds-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        config = make_instance(root / "instance", count)
        print(f"\n== {count} articles (store made in {time.perf_counter() - start:.1f} s)")
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("cold", "peer", "spliced", "warm")}
        for r in range(args.runs):
            # Interleaved, so drift hits all alike; "warm" after "spliced", which leaves
            # the document cache it links from.
            for kind in ("cold", "peer", "spliced", "warm"):
                out = root / f"out-{kind}-{r}"
                runs[kind].append(measure(kind, config, out))
                shutil.rmtree(out)
        live = root / "out-live"
        profiles = {}
        if not args.no_profile:
            profiles["cold"] = measure("cold-profile", config, live)
            shutil.rmtree(live)
            profiles["all kept"] = measure("warm-profile", config, live)
        else:
            measure("cold", config, live)
        n = count + (-count % len(SECTIONS))  # the next World article
        for k in range(count, n):
            add_article(config, k)
        # The first build that chooses a pick after the store's first build starts from
        # the related index snapshot the cold build saved, with every change since (and,
        # on a store indexed minutes before, the whole table within the overlap of its
        # watermark: it saves the snapshot again). Reported apart; the runs below start
        # from a snapshot a build choosing picks saved, as every later one does.
        add_article(config, n)
        first_related = measure("warm", config, live)
        n += 1
        incremental: dict[str, list[dict[str, Any]]] = {"other": [], "related": []}
        # Articles newest each time, the sections in turn: until each kind has its runs.
        while min(map(len, incremental.values())) < args.incremental_runs:
            add_article(config, n)
            related = SECTIONS[n % len(SECTIONS)] == "World"
            incremental["related" if related else "other"].append(measure("warm", config, live))
            n += 1
        if not args.no_profile:
            add_article(config, n)
            profiles["incremental"] = measure("warm-profile", config, live)
            n += 1
        n += -n % len(SECTIONS)  # the next World article
        resident = measure(f"resident:{n}:{args.incremental_runs}", config, live)
        report(args, runs, incremental, resident, profiles)
        print(
            "first build choosing a pick after the store's first build (from the cold "
            f"build's related index snapshot): {first_related['seconds']:.3f} s"
        )


def report(
    args: Any,
    runs: dict[str, list[dict[str, Any]]],
    incremental: dict[str, list[dict[str, Any]]],
    resident: dict[str, Any],
    profiles: dict[str, dict[str, Any]],
) -> None:
    """Print the figures."""
    p_med = summary(runs["peer"])[0]
    pages = runs["cold"][0]["pages"]
    print(f"channels: example instance (4); archive pages over all channels: {pages}")
    print(f"{'':34}{'median s':>10}{'peak MB':>10}{'/ peer':>8}")
    rows = [
        ("syndicate cold full build", runs["cold"]),
        ("syndicate full, fragments kept", runs["spliced"]),
        ("syndicate full, all kept", runs["warm"]),
        ("peer full (feedgen floor)", runs["peer"]),
        ("syndicate incremental (+1)", incremental["other"]),
        ("  ... in the related channel", incremental["related"]),
        ("  ... same, long-running process", [resident]),
    ]
    for label, measured in rows:
        med, mem = summary(measured)
        print(f"{label:34}{med:10.3f}{mem:10.0f}{med / p_med:8.3f}")
    print(
        f"long-running process: {args.incremental_runs} builds after one that loaded the "
        f"related index ({resident['first']:.3f} s)"
    )
    inc = incremental["other"] + incremental["related"]
    written = statistics.median(r["pages_written"] for r in inc)
    rendered = statistics.median(r["items_rendered"] for r in inc)
    chosen = statistics.median(r["picks_chosen"] for r in inc)
    print(
        f"incremental runs: {len(inc)}; per run (median): archive pages rewritten {written}, "
        f"items rendered {rendered}, picks chosen {chosen}"
    )
    cold = runs["cold"][0]
    print(
        f"cold build: items rendered {cold['items_rendered']}, reused {cold['items_reused']}, "
        f"picks chosen {cold['picks_chosen']}; full runs: {args.runs} each"
    )
    for name, profile in profiles.items():
        stages = sorted(profile["stages"].items(), key=lambda kv: -kv[1])
        total = profile["seconds"]
        top = ", ".join(f"{stage} {sec:.2f}" for stage, sec in stages if sec >= 0.005)
        print(f"profile, {name} ({total:.2f} s under cProfile): {top}")


if __name__ == "__main__":
    main()
