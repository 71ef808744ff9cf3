"""The ``folder`` source: Markdown or HTML files with YAML front matter.

Front matter keys (all but ``title`` optional)::

    id, slug, title, dek, section, tags, authors: [{name, bio, url}],
    image: {url, alt, credit, caption, width, height}, published, updated,
    featured, url (canonical), draft, related: [ids or slugs], related_exclude

``related`` pins "More from" picks, first, in that order: an article's ``id`` or slug
(its key) names the article of that key in the same source, a full ``tag:`` id any
article. A pin that names no stored article is kept (it may arrive later), ignored when
picking, and reported by ingest with the file's name. ``related_exclude: true`` keeps
the article out of every pick list.

The key of an article is ``id``, else ``slug``, else the file name stem, so moving a
file or changing the site's host never changes its id. A file with bad front matter is
reported with its path, line and reason, and skipped; the others are read.

Files whose modification time and size match the previous run are not parsed again
(counted as unchanged), unless the source's settings changed since; ``syndicate ingest
--full`` reads everything.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler
from markdown_it import MarkdownIt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from syndicate.errors import ContentError
from syndicate.ingest.content import article_id
from syndicate.ingest.sources.base import Source
from syndicate.models import Author, Entry, FetchResult, Image, SourceState

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})


class FolderOptions(BaseModel):
    """Keys of a ``kind = "folder"`` source."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="Folder to read, relative to the config file.")
    url_pattern: str = Field(
        "/{section}/{slug}/",
        description="Article URL when front matter has no 'url'; {section} and {slug}.",
    )
    exclude: tuple[str, ...] = Field(
        ("_*", ".*"), description="Glob patterns of file or folder names to skip."
    )


class _AuthorMatter(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = ""
    bio: str | None = ""
    url: str | None = ""


class _ImageMatter(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str
    alt: str | None = ""
    credit: str | None = ""
    caption: str | None = ""
    width: int | None = None
    height: int | None = None


class FrontMatter(BaseModel):
    """The front matter of one article file, as validated."""

    model_config = ConfigDict(extra="allow")

    id: str | int | None = None
    slug: str | None = None
    title: str = Field(min_length=1)
    dek: str | None = ""
    section: str | None = ""
    tags: list[str] = []
    authors: list[_AuthorMatter] = []
    author: str | None = None
    image: _ImageMatter | None = None
    published: datetime | None = None
    updated: datetime | None = None
    featured: bool = False
    draft: bool = False
    url: str | None = None
    related: list[StrictStr | StrictInt] = []
    related_exclude: StrictBool = False

    @field_validator("published", "updated", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        # YAML gives a bare date for "2026-11-18"; read it as midnight UTC.
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("related", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return [str(v) for v in value] if isinstance(value, list) else value


class _LibYAMLHandler(YAMLHandler):
    """python-frontmatter's YAML handler on libyaml's C loader (about 5x faster)."""

    def load(self, fm: str, **kwargs: object) -> Any:
        return yaml.load(fm, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


_yaml_handler = _LibYAMLHandler()
_markdown = MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")


def _slugify(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in out.split("-") if part)


class FolderSource(Source):
    """Articles from files in a folder (recursively)."""

    Options = FolderOptions
    options: FolderOptions

    def fetch(self, state: SourceState) -> FetchResult:
        """Read every article file; bad files become warnings, never the whole source."""
        folder = self.context.base_dir / self.options.path
        if not folder.is_dir():
            raise ContentError(f"folder {folder} does not exist", source=self.name)
        result = FetchResult()
        fingerprint = self._fingerprint()
        known: dict[str, list[int]] = {}
        if state.extra.get("fingerprint") == fingerprint:
            known = state.extra.get("files", {})
        seen: dict[str, list[int]] = {}
        for path in self._files(folder):
            rel = path.relative_to(folder).as_posix()
            stat = path.stat()
            signature = [stat.st_mtime_ns, stat.st_size]
            if known.get(rel) == signature:
                seen[rel] = signature
                result.skipped += 1
                continue
            try:
                result.entries.append(self.read_file(path, folder))
            except ContentError as err:
                result.warnings.append(str(err))
                continue
            seen[rel] = signature
        result.extra = {"fingerprint": fingerprint, "files": seen}
        return result

    def _fingerprint(self) -> str:
        """Changes when anything that shapes an article other than the file changes."""
        from syndicate import __version__

        site = self.context.site
        parts = [
            __version__,
            site.base_url,
            site.tag_authority,
            self.config.section,
            self.options.model_dump_json(),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def _files(self, folder: Path) -> list[Path]:
        suffixes = MARKDOWN_SUFFIXES | HTML_SUFFIXES
        files = []
        for path in folder.rglob("*"):
            rel = path.relative_to(folder)
            if any(part_matches(part, self.options.exclude) for part in rel.parts):
                continue
            if path.suffix.lower() in suffixes and path.is_file():
                files.append(path)
        return sorted(files)

    def read_file(self, path: Path, folder: Path) -> Entry:
        """One file as an Entry; :class:`ContentError` names the path, line and reason."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ContentError(f"{path}: cannot read: {err}", source=self.name) from err
        try:
            post = frontmatter.loads(text, handler=_yaml_handler)
        except yaml.YAMLError as err:
            raise ContentError(
                f"{path}:{_yaml_line(err)}: bad front matter: {_yaml_reason(err)}", source=self.name
            ) from err
        if not post.metadata:
            raise ContentError(
                f"{path}:1: no front matter (expected a '---' block)", source=self.name
            )
        try:
            meta = FrontMatter.model_validate(post.metadata)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            line = _key_line(text, str(first["loc"][0]))
            raise ContentError(
                f"{path}:{line}: front matter key '{key}': {first['msg']} "
                f"(found {first.get('input')!r})",
                source=self.name,
            ) from err
        return self._entry(meta, post.content, path, folder)

    def _entry(self, meta: FrontMatter, body: str, path: Path, folder: Path) -> Entry:
        slug = meta.slug or path.stem
        section = meta.section or self.config.section
        is_markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
        body_html = _markdown.render(body) if is_markdown else body
        url = meta.url or self.options.url_pattern.format(
            section=_slugify(section) or "articles", slug=slug
        )
        authors = [Author(a.name or "", a.bio or "", a.url or "") for a in meta.authors]
        if meta.author and not authors:
            authors = [Author(meta.author)]
        image = None
        if meta.image is not None:
            i = meta.image
            image = Image(i.url, i.alt or "", i.credit or "", i.caption or "", i.width, i.height)
        return Entry(
            key=str(meta.id) if meta.id is not None else slug,
            url=url,
            base_url=self.context.site.base_url,
            title=meta.title,
            dek=meta.dek or "",
            body_html=body_html,
            authors=tuple(authors),
            section=section or "",
            tags=tuple(meta.tags),
            image=image,
            published_at=meta.published or _mtime(path),
            updated_at=meta.updated,
            featured=meta.featured,
            origin=str(path.relative_to(folder)),
            related_pins=tuple(self._pin(str(p)) for p in meta.related if str(p).strip()),
            related_exclude=meta.related_exclude,
        )

    def _pin(self, value: str) -> str:
        """A pinned pick's article id: a ``tag:`` id as given, else the id of the
        article with that key in this source."""
        value = value.strip()
        if value.startswith("tag:"):
            return value
        return article_id(self.context.site.tag_authority, self.name, value)


def part_matches(name: str, patterns: tuple[str, ...]) -> bool:
    """True if a path part matches one of the glob ``patterns``."""
    from fnmatch import fnmatch

    return any(fnmatch(name, p) for p in patterns)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)


def _yaml_line(err: yaml.YAMLError) -> int:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    # The block handed to YAML starts with the rest of the opening '---' line, so its
    # line 0 is the file's line 1.
    return mark.line + 1 if mark is not None else 1


def _yaml_reason(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None)
    context = getattr(err, "context", None)
    parts = [p for p in (context, problem) if p]
    return "; ".join(parts) if parts else str(err).splitlines()[0]


def _key_line(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
    return 1
