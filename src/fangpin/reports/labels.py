"""Chinese labels for the office's report: those of fangpin's one vocabulary (``fangpin.labels``)."""

from __future__ import annotations

from fangpin.labels import DEPARTMENTS, ENCODINGS, OUTCOMES, REASONS, encoding_label

__all__ = ["DEPARTMENTS", "ENCODINGS", "OUTCOMES", "REASONS", "encoding_label"]
