"""What every settings section shares: strict, frozen models and the name pattern."""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
)

CONFIG_FILENAME = "syndicate.toml"
CONFIG_ENV = "SYNDICATE_CONFIG"
ENV_PREFIX = "SYNDICATE_"

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Section(BaseModel):
    """A settings section: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)
