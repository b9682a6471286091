"""Screening from the browser: the uploaded drop is queued as a job in the database (``services.jobs``) and
screened by a worker process (``fangpin worker``, or the one ``fangpin serve`` starts); the job page follows
its progress (server-sent events, or polling) from the job's record, until it is done or failed."""

from __future__ import annotations

from fangpin.services.jobs import ACTIVE, STAGE_ORDER, new_drop_folder

__all__ = ["ACTIVE", "STAGE_ORDER", "new_drop_folder"]
