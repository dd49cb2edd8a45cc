"""Domain exceptions, in one module.

Every error a user can cause carries an English and a Chinese message, and, where
it comes from input data, the list of problems with the row (feature index) and
field they concern. ``api/errors.py`` maps each class to one HTTP status; the CLI
prints the same texts. Nothing here imports a web or database library.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with input data: where it is and what is wrong."""

    message: str
    message_zh: str
    table: str | None = None
    row: int | None = None  # 0-based feature index in the input
    field: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = []
        if self.table:
            where.append(self.table)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        return f"{prefix}{self.message} / {self.message_zh}"


@dataclass
class GridGisError(Exception):
    """Base of every error the system reports to a person."""

    message: str
    message_zh: str = ""
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        text = self.message if not self.message_zh else f"{self.message} / {self.message_zh}"
        if self.problems:
            shown = "\n".join(f"  - {p}" for p in self.problems[:50])
            more = len(self.problems) - 50
            text += "\n" + shown + (f"\n  ... and {more} more" if more > 0 else "")
        return text

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "message_zh": self.message_zh,
            "problems": [p.to_dict() for p in self.problems],
        }


class InvalidInput(GridGisError):
    """Input data or a request is wrong; nothing was stored."""


class CRSError(InvalidInput):
    """The coordinate reference system is missing, unknown or implausible for the data."""


class NotFound(GridGisError):
    """A plan, grid, layer or other object does not exist."""


class Conflict(GridGisError):
    """The request contradicts the store's state (duplicate code, wrong plan status)."""


class StoreUnavailable(GridGisError):
    """The configured store cannot be opened or reached."""
