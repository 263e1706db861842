"""Findings: faults in a readable file, reported with severity, code and line."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(slots=True)
class Finding:
    severity: Severity
    code: str
    line: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "line": self.line,
            "message": self.message,
        }
