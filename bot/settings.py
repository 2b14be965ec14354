"""Process settings, read from environment variables prefixed ``KEYQ_``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a keyq process needs from its environment. See the README's table."""

    model_config = SettingsConfigDict(env_prefix="KEYQ_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///keyq.db",
        description="SQLAlchemy URL; SQLite file in the working directory by default.",
    )
    keys_file: Path | None = Field(
        default=None,
        description="Key ring file (mode 0600). Default: keyq.keys beside a SQLite database.",
    )
    keys: SecretStr | None = Field(
        default=None, description="Key ring JSON given directly (e.g. from a secret store)."
    )
    config: Path = Field(default=Path("keyq.toml"), description="Organisation settings file.")
    admins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Comma-separated admin refs: slack:U0123,telegram:42,console:alice"
    )
    managers: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Comma-separated refs of managers (guidance fitted to data)."
    )
    default_campaign: str = Field(
        default="workforce",
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="The year-round campaign created on first start.",
    )
    flush_batch: int = Field(
        default=10, ge=10, description="Answers join the totals in shuffled batches of this size."
    )
    conversation_ttl_hours: int = Field(default=24, ge=1, le=24)
    snapshot_interval_hours: float = Field(
        default=24, ge=0, description="A report publishes a new snapshot at most this often."
    )
    telegram_token: SecretStr | None = Field(
        default=None, description="Bot token from BotFather; turns the Telegram channel on."
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API base URL, ending in /bot (a local Bot API server or a test fake).",
    )
    telegram_webhook_url: str | None = Field(
        default=None, description="Public URL of POST /telegram/webhook; unset means polling."
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="Secret Telegram echoes on each delivery (random if unset)."
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, description="Bot token (xoxb-); with the signing secret, turns Slack on."
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Slack app signing secret; Bolt verifies every request."
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Web API base URL, ending in /."
    )
    slack_app_token: SecretStr | None = Field(
        default=None, description="App-level token (xapp-): use Socket Mode instead of HTTP."
    )
    timezone: str = Field(
        default="Europe/London", description="Default time zone for schedules and reminders."
    )
    reminder_quiet_days: int = Field(default=14, ge=1, description="Remind nobody more often.")
    joiner_days: int = Field(default=14, ge=0, description="Ask new joiners after this.")
    reminder_grace_hours: float = Field(
        default=6, ge=0, description="A reminder missed while down is sent if this recent."
    )
    telegram_rate: float = Field(default=30, gt=0, description="Telegram sends per second.")
    slack_rate_per_minute: float = Field(
        default=525, gt=0, description="Slack chat.postMessage workspace cap per minute."
    )
    slack_reminder_channel: str | None = Field(
        default=None, description="Remind only this channel's members (default: everyone)."
    )
    admin_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Bearer token for the admin HTTP API (16 characters or more); unset "
        "disables it.",
    )
    telegram_reply_rate: float = Field(
        default=10,
        ge=0,
        description="Reply messages a second, shared by every keyq process; reminders use "
        "the rest of KEYQ_TELEGRAM_RATE (0: replies unpaced, for measurements only).",
    )
    slack_reply_rate: float = Field(
        default=3,
        ge=0,
        description="Slack reply messages a second, shared by every keyq process; reminders "
        "use the rest of KEYQ_SLACK_RATE_PER_MINUTE (0: replies unpaced, for measurements only).",
    )
    public_url: str = Field(
        default="http://localhost:8000",
        pattern=r"^https?://[^/\s]+$",
        description="Where people reach keyq serve: printed in answer cards' QR codes.",
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("admins", "managers", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("admins", "managers")
    @classmethod
    def _check_admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ref in value:
            channel, _, user = ref.partition(":")
            if not channel or not user:
                raise ValueError("each admin is channel:id, e.g. slack:U0123 or telegram:42")
        return value

    def resolved_keys_file(self) -> Path:
        """Where the key ring lives: the setting, or keyq.keys beside the SQLite file."""
        if self.keys_file is not None:
            return self.keys_file
        if self.database_url.startswith("sqlite"):
            path = self.database_url.split("///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:":
                return Path(path).parent / "keyq.keys"
        return Path("keyq.keys")
