"""Bad templates and oversize output: clear errors naming the file, nothing recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.digest import build_edition
from syndicate.digest.errors import DigestError, RenderLimitError, TemplateError
from syndicate.digest.render import render_edition
from syndicate.digest.templates import DEFAULT_DIR, DigestTemplates
from syndicate.store import Store
from syndicate.store.editions import list_editions
from tests.digest.factory import article, channel, edition, settings, store_articles

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
MJML_OK = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>{{ lead.title }}</mj-text>"
    "</mj-column></mj-section></mj-body></mjml>\n"
)


def override(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


def render_with(folder: Path, **digest: object) -> None:
    config = settings(templates_dir=folder)
    render_edition(edition([article(1)]), config, channel(**digest), DigestTemplates(config))


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("<mjml>\n<mj-body>\n{% if %}\n</mj-body></mjml>\n", 3, "syntax error"),
        ("<mjml>\n<mj-body>\n{{ nope.title }}\n</mj-body></mjml>\n", 3, "undefined variable"),
        ("<mjml>\n{% for s in stories %}\n{{ s.titel }}\n{% endfor %}</mjml>\n", 3, "titel"),
    ],
)
def test_template_errors_name_the_file_and_line(
    tmp_path: Path, source: str, line: int, words: str
) -> None:
    path = override(tmp_path / "t", "digest.mjml.j2", source)
    stories = [article(1), article(2)]
    config = settings(templates_dir=tmp_path / "t")
    with pytest.raises(TemplateError) as caught:
        render_edition(edition(stories), config, channel(), DigestTemplates(config))
    message = str(caught.value)
    assert str(path) in message and f"line {line}" in message and words in message
    assert caught.value.template == str(path) and caught.value.line == line


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("<mjml><mj-body><mj-section><mj-column><mj-text>x</mj-section></mjml>\n", "invalid MJML"),
        ("<mjml><mj-body><mj-bogus>x</mj-bogus></mj-body></mjml>\n", "unknown element <mj-bogus>"),
        ("<mj-body></mj-body>\n", "invalid MJML"),
    ],
)
def test_invalid_mjml_names_the_template(tmp_path: Path, source: str, words: str) -> None:
    path = override(tmp_path / "t", "digest.mjml.j2", source)
    with pytest.raises(TemplateError, match=words) as caught:
        render_with(tmp_path / "t")
    assert str(path) in str(caught.value)


def test_missing_template_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"nosuch\.mjml\.j2: template not found"):
        render_with(tmp_path, template="nosuch")


def test_text_lines_over_78_columns_are_refused(tmp_path: Path) -> None:
    override(tmp_path / "t", "digest.mjml.j2", MJML_OK)
    path = override(tmp_path / "t", "digest.txt.j2", "short\n" + "word " * 20 + "\n")
    with pytest.raises(TemplateError, match="line 2 is 99 columns") as caught:
        render_with(tmp_path / "t")
    assert str(path) in str(caught.value)


def test_oversize_html_fails_with_the_limit_and_the_file() -> None:
    config = settings()
    with pytest.raises(RenderLimitError) as caught:
        render_edition(
            edition([article(1)]),
            config,
            channel(max_html_bytes=4096),
            DigestTemplates(config),
        )
    message = str(caught.value)
    assert str(DEFAULT_DIR / "digest.mjml.j2") in message
    assert "over the limit of 4,096" in message and "max_html_bytes" in message


def test_bad_subject_template_names_the_key(store: Store) -> None:
    store_articles(store, 2)
    daily = channel(subject="{{ lead.headline }}", first_lookback_hours=240)
    with pytest.raises(TemplateError, match=r"daily: \[digest\] subject"):
        build_edition(store, settings(), daily, SLOT)
    assert list_editions(store) == []


@pytest.mark.parametrize("case", ["syntax", "mjml", "size"])
def test_failed_render_records_nothing(store: Store, tmp_path: Path, case: str) -> None:
    store_articles(store, 3)
    folder = tmp_path / "t"
    digest: dict[str, object] = {"first_lookback_hours": 240}
    if case == "syntax":
        override(folder, "digest.txt.j2", "{% for %}\n")
    elif case == "mjml":
        override(folder, "digest.mjml.j2", "<mjml><mj-body><mj-section></mjml>")
    else:
        digest["max_html_bytes"] = 2048
    with pytest.raises(DigestError):
        build_edition(store, settings(templates_dir=folder), channel(**digest), SLOT)
    assert list_editions(store) == []


def test_an_instance_template_overrides_the_default(tmp_path: Path) -> None:
    override(tmp_path / "t", "digest.txt.j2", "Custom: {{ lead.title }}\n")
    config = settings(templates_dir=tmp_path / "t")
    done = render_edition(edition([article(7)]), config, channel(), DigestTemplates(config))
    assert done.text == "Custom: Story number 7\n"
    assert "Story number 7" in done.html  # the MJML template is still the default
