"""The example instance's ``templates/`` folder: what ``templates_dir`` points at.

It holds copies of the overridable digest templates, so an operator starts from a
working file. The copies must stay the built-ins' exact bytes (here, in the repository;
an operator's own copies are theirs to keep up), so the example renders what the
defaults render.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.config import Settings, load_settings
from syndicate.digest.render import render_edition
from syndicate.digest.templates import DEFAULT_DIR, DigestTemplates
from tests.digest.factory import article, channel, edition

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
OVERRIDABLE = sorted(p.name for p in DEFAULT_DIR.glob("*.j2"))


@pytest.fixture(scope="module")
def example() -> Settings:
    return load_settings(ROOT / "syndicate.toml")


def test_templates_dir_of_the_example_instance_is_its_templates_folder(example: Settings) -> None:
    folder = example.resolve(example.templates_dir)
    assert folder.resolve() == TEMPLATES
    assert TEMPLATES.is_dir()
    assert DigestTemplates(example).dirs[0].resolve() == TEMPLATES  # looked in first


def test_every_overridable_template_is_copied_unchanged() -> None:
    assert OVERRIDABLE == ["digest.mjml.j2", "digest.txt.j2"]
    stale = [
        name
        for name in OVERRIDABLE
        if not (TEMPLATES / name).is_file()
        or (TEMPLATES / name).read_bytes() != (DEFAULT_DIR / name).read_bytes()
    ]
    assert not stale, (
        f"templates/{stale} differ from the built-ins; after changing a built-in template, "
        "copy it: cp src/syndicate/digest/templates/<name> templates/"
    )


@pytest.mark.parametrize("name", OVERRIDABLE)
def test_the_copies_are_the_ones_read_and_they_compile(example: Settings, name: str) -> None:
    templates = DigestTemplates(example)
    assert Path(templates.path(name)).resolve() == TEMPLATES / name
    compiled = templates.env.get_template(name)
    assert compiled.filename is not None
    assert Path(compiled.filename).resolve() == TEMPLATES / name


def test_the_readme_says_what_may_be_overridden_and_how() -> None:
    readme = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    for name in OVERRIDABLE:
        assert f"`{name}`" in readme
    assert "`templates_dir`" in readme
    assert "docs/digests.md" in readme


def test_a_digest_from_the_example_instance_equals_the_built_in_rendering(
    example: Settings,
) -> None:
    lead = article(2, title="Rockets & rumours: a launch pad… in the Caribbean?")
    made = edition([lead, article(1, image=None)], [article(10, section="Culture")])
    config = channel()
    instance = render_edition(made, example, config, DigestTemplates(example))
    built_in = render_edition(made, example, config, DigestTemplates())
    assert DigestTemplates().dirs == [DEFAULT_DIR]
    assert instance == built_in
