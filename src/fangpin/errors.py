"""The error tree of fangpin. Every error a user can cause names what is at fault.

Every error fangpin raises on purpose derives from ``FangpinError``; the CLI prints it as one line (no
traceback) and the API answers it as a problem document with the HTTP status shown. The classes live
beside the code that raises them; the module is given for those not defined here.

- FangpinError                                      (here)
    - PackError                 a rule pack is missing, broken or inconsistent (names file and key)
        - NoPackForYear         no shipped or named pack is in force for the policy year
    - DocumentError             a household document is malformed (names the field)
    - EngineError               the rule engine failed or decided nothing (a pack or engine defect)
    - StorageError              the database refused or lost a write
    - ReplayError               a stored decision or run cannot be replayed (missing, or its pack altered)
    - ExportError               a department export cannot be used (names file, row and field)
                                                    fangpin.intake.errors
        - MissingColumnError    a department's file lacks a required column: the run stops
        - UnreadableFileError   a file that cannot be decoded or opened
        - UnrecognisedFileError no header row of any department near the top: listed and ignored
    - ProfileError              a source profile (sources/*.yaml) is malformed      fangpin.intake.profiles
    - DropError                 a drop folder cannot be screened as a whole (missing, empty)
                                                    fangpin.services.screening
    - NotAllowed                the user's role or county may not do this (403)      fangpin.claims
    - Conflict                  does not fit the claim's current state; nothing changed (409)
                                                    fangpin.claims
    - NotFound                  no such claim, decision or run (404)                 fangpin.claims
    - Unauthenticated           no bearer token, or one of no user (401)             fangpin.claims
    - InvalidRequest            a request value the service refuses, naming its field (422)
                                                    fangpin.claims
        - Invalid               a request value failing validation, by its path (422) fangpin.api.errors
    - MalformedBody             the request body is not a JSON document (400)        fangpin.api.errors
    - SettingsError             a FANGPIN_* variable is not a valid value             fangpin.config

Not in the tree, on purpose: the web console's control-flow signals ``LoginRequired`` (303 to the login
page), ``NotSignedIn`` (401) and ``Forbidden`` (403) in ``fangpin.web.auth``, and ``RunMissing`` in
``fangpin.web.routes.runs``; they are answered by the console's own handlers, never shown as errors.
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
    """No pack is in force for ``year``; ``covered`` are the years the packs at hand cover. The message is
    for anyone (no server path, no command-line flag); ``hint`` says what the terminal's user can do besides."""

    def __init__(self, message: str, *, year: int | None = None, covered: tuple[int, ...] = (),
                 hint: str | None = None) -> None:
        self.year = year
        self.covered = covered
        self.hint = hint
        super().__init__(message)


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
