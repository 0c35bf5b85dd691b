"""The template errors, with Go's texts:

    TemplateError
    ├── ParseError   template: NAME:LINE: message
    └── ExecError    template: NAME:LINE:COL: executing "NAME" at <node>: message
                     (carries the output written before the error, as Go's Execute leaves
                     it in the writer)
"""

from __future__ import annotations

__all__ = ["ExecError", "GoError", "ParseError", "TemplateError"]


class TemplateError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ParseError(TemplateError):
    pass


class ExecError(TemplateError):
    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class GoError(Exception):
    """An error value returned by a template function (Go's second result)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
