"""Purple's settings: a TOML file validated by pydantic, plus environment variables.

Precedence (highest first): command-line flags, environment (OLLAMA_HOST,
PURPLE_DATA_DIR, PURPLE_CONFIG), the config file, defaults. OLLAMA_API_KEY is read by
the client at connection time and is never written anywhere by Purple.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

APP_NAME = "purple"
DEFAULT_MODEL = "polski-mini"


class ConfigError(Exception):
    """The config file cannot be read or is invalid; the message is for the user."""


class ChatOptions(BaseModel):
    """Generation parameters saved with each chat (None: the model's default)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.0, le=5.0)
    num_ctx: int | None = Field(default=None, ge=16)
    num_predict: int | None = Field(default=None, ge=-2)
    seed: int | None = None
    keep_alive: str | None = None

    def ollama_options(self) -> dict:
        """The `options` object of /api/chat (keep_alive travels separately)."""
        return self.model_dump(exclude_none=True, exclude={"keep_alive"})


PARAMETER_NAMES = tuple(ChatOptions.model_fields)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: Literal["pl", "en"] = "pl"
    host: str | None = None
    model: str = DEFAULT_MODEL
    system: str = ""
    theme: str = "purple"
    data_dir: str | None = None
    retry_seconds: float = Field(default=3.0, gt=0)
    keys: dict[str, str] = Field(default_factory=dict)
    defaults: ChatOptions = Field(default_factory=ChatOptions)


def config_path() -> Path:
    override = os.environ.get("PURPLE_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def load_config(path: Path | None = None, **overrides: object) -> Config:
    """Read the config file (missing file: defaults), then apply env and `overrides`."""
    path = path or config_path()
    data: dict = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: {error}") from error
    if os.environ.get("OLLAMA_HOST"):
        data["host"] = os.environ["OLLAMA_HOST"]
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from error


def data_dir(config: Config) -> Path:
    """Where the chat database lives: PURPLE_DATA_DIR, config `data_dir`, or the user data dir."""
    chosen = os.environ.get("PURPLE_DATA_DIR") or config.data_dir
    if chosen:
        return Path(chosen).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))
