"""Intake of department exports: one file (CSV or .xlsx) to typed valid rows and row outcomes."""

from fangpin.intake.errors import ExportError, MissingColumnError, UnreadableFileError, UnrecognisedFileError
from fangpin.intake.parse import (
    OUTCOME_SCHEMA,
    SKIP_REASONS,
    Identified,
    ParsedExport,
    identify_export,
    output_schema,
    parse_export,
)
from fangpin.intake.profiles import Profile, Profiles, load_profiles

__all__ = [
    "OUTCOME_SCHEMA",
    "SKIP_REASONS",
    "ExportError",
    "Identified",
    "MissingColumnError",
    "ParsedExport",
    "Profile",
    "Profiles",
    "UnreadableFileError",
    "UnrecognisedFileError",
    "identify_export",
    "load_profiles",
    "output_schema",
    "parse_export",
]
