"""The error tree of fangpin. Every error a user can cause names what is at fault.

- FangpinError
    - PackError                 a rule pack is missing, broken or inconsistent (names file and key)
        - NoPackForYear         no shipped or named pack is in force for the policy year
    - DocumentError             a household document is malformed (names the field)
    - EngineError               the rule engine failed or decided nothing (a pack or engine defect)
    - ExportError               a department export cannot be used (names file, row and field)
        - MissingColumnError    a department's file lacks a required column
        - UnreadableFileError   a file that cannot be decoded or opened
    - StorageError              the database refused or lost a write
    - ReplayError               a stored decision cannot be replayed
"""

from __future__ import annotations


class FangpinError(Exception):
    """Base of every error fangpin raises on purpose."""


class PackError(FangpinError):
    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class NoPackForYear(PackError):
    pass


class DocumentError(FangpinError):
    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        self.field = field
        self.source = source
        super().__init__(message)


class EngineError(FangpinError):
    pass


class StorageError(FangpinError):
    pass


class ReplayError(FangpinError):
    pass
