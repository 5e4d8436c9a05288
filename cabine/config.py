"""One typed configuration for every part of cabine: defaults, a TOML file, environment overrides.

Precedence: environment (``CABINE_SECTION__KEY``) over the TOML file over defaults. The
documented example file is generated from this schema (``cabine config example``).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from collector.settings import CollectorSettings
from ephoto.settings import ClockSettings, OperatorSettings
from kiosk.settings import KioskSettings
from registry.settings import RegistrySettings
from support.settings import SupportSettings
from transmitter.settings import TransmitterSettings

DEFAULT_CONFIG_FILE = Path("cabine.toml")
_config_file: ContextVar[Path | None] = ContextVar("cabine_config_file", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CABINE_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(
        default=Path("cabine-data"),
        description="Folder for the SQLite files, prints, screenshots and keys of this machine.",
    )
    lang: str = Field(default="fr", pattern="^(fr|en)$", description="Default language: fr or en.")
    clock: ClockSettings = Field(default_factory=ClockSettings)
    operator: OperatorSettings = Field(default_factory=OperatorSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)
    transmitter: TransmitterSettings = Field(default_factory=TransmitterSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    support: SupportSettings = Field(default_factory=SupportSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def config_path(explicit: Path | None = None) -> Path | None:
    """The config file in use: ``explicit``, else ``CABINE_CONFIG``, else ./cabine.toml if any."""
    if explicit is not None:
        if not explicit.is_file():
            raise FileNotFoundError(f"config file {explicit} does not exist")
        return explicit
    env = os.environ.get("CABINE_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(f"CABINE_CONFIG names {path}, which does not exist")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    token = _config_file.set(config_path(path))
    try:
        return Settings(**overrides)
    finally:
        _config_file.reset(token)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return _toml_value(str(value))
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, BaseModel):
        return _toml_value(value.model_dump())
    raise TypeError(f"cannot write {value!r} as TOML")


def _write_fields(model: BaseModel, lines: list[str]) -> list[tuple[str, BaseModel]]:
    sections: list[tuple[str, BaseModel]] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            sections.append((name, value))
            continue
        if info.description:
            lines.append(f"# {info.description}")
        if value is None:
            kinds = [a.__name__ for a in get_args(info.annotation) if a is not type(None)]
            lines.append(f"# {name} = ...  ({' or '.join(kinds) or 'value'}; not set)")
        else:
            lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    return sections


def settings_toml(settings: Settings) -> str:
    """The whole of ``settings`` as a configuration file that loads back to the same values."""
    header = "# cabine configuration of one process, written by its session (cabine.topology)."
    return _document(settings, [header, ""])


def _document(settings: BaseModel, lines: list[str]) -> str:
    """``lines`` followed by every field of ``settings``, a TOML table per section."""
    pending = _write_fields(settings, lines)
    while pending:
        name, section = pending.pop(0)
        lines.append(f"[{name}]")
        nested = _write_fields(section, lines)
        pending[0:0] = [(f"{name}.{n}", s) for n, s in nested]
    return "\n".join(lines).rstrip() + "\n"


def write_settings(settings: Settings, path: Path) -> Path:
    """Write ``settings`` to ``path`` (0600: it may hold admin tokens), through a temporary
    file so that a process never reads half a file."""
    from ephoto.private import write_private

    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, settings_toml(settings).encode())
    return path


def example_toml() -> str:
    """The documented example configuration, every key at its default."""
    defaults = Settings.model_construct()
    for name, info in Settings.model_fields.items():
        if info.default_factory is not None:
            object.__setattr__(defaults, name, info.default_factory())  # type: ignore[call-arg]
    lines = [
        "# cabine configuration. Every key is optional; shown here at its default.",
        "# Environment variables override it: CABINE_SECTION__KEY (e.g. CABINE_REGISTRY__PORT).",
        "",
    ]
    return _document(defaults, lines)
