"""Screening a data drop from the browser: upload, start, follow its progress stage by stage."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from fangpin.claims import local_day
from fangpin.config import get_settings
from fangpin.errors import FangpinError
from fangpin.services import default_year, jobs, pack_years, resolve_pack
from fangpin.web import auth
from fangpin.web.auth import Viewer
from fangpin.web.jobs import ACTIVE, STAGE_ORDER, new_drop_folder
from fangpin.web.render import error_page, json_answer, render, runs_dir, wants_json
from fangpin.web.uploads import MultiPartException, UploadTooLarge, close_form, read_form

router = APIRouter()
SUFFIXES = (".csv", ".xlsx")
CHUNK = 1 << 20


def _years(request: Request) -> list[int]:
    """The policy years the form offers: those the packs in force cover (``--pack`` of ``fangpin serve``, else
    the shipped packs)."""
    return pack_years(getattr(request.app.state, "pack_dir", None))


def _default_year(request: Request) -> int:
    """The latest year a pack covers that is not after this year (the counties' calendar)."""
    return default_year(_years(request), local_day(auth.now(request)).year)


def _form(request: Request, year: int | None, error: str | None, field: str | None = None) -> dict[str, object]:
    return {"year": year if year is not None else _default_year(request), "years": _years(request),
            "error": error, "field": field}


def database_url(request: Request) -> str:
    engine = request.app.state.sessions.kw["bind"]
    return str(engine.url.render_as_string(hide_password=False))


@router.get("/screening", response_class=HTMLResponse, include_in_schema=False)
def screening_page(request: Request, viewer: Annotated[Viewer, Depends(auth.page("screening"))]) -> Response:
    return render(request, "screening.html", _form(request, None, None), viewer=viewer)


def _refuse(request: Request, viewer: Viewer, status: int, message: str, year: int | None,
            field: str | None = None) -> Response:
    """The form again with the year chosen kept and the error beside its field (``year``, ``county``,
    ``files``; the files themselves must be chosen again: a browser never refills a file input)."""
    if wants_json(request):
        return json_answer({"status": status, "detail": message, **({"field": field} if field else {})}, status)
    return render(request, "screening.html", _form(request, year, message, field), viewer=viewer, status=status)


@router.post("/screening", include_in_schema=False)
async def start_screening(
    request: Request,
    viewer: Annotated[Viewer, Depends(auth.data("screening"))],
) -> Response:
    """Only the office screens, and only its own county's drop. The session is checked before the form
    is read (``web.uploads``): an anonymous upload is never stored, not even in a temporary file."""
    sent = request.headers.get("x-csrf-token")
    if sent:
        auth.check_csrf(viewer, sent)
    settings = get_settings()
    try:
        form = await read_form(request, max_file_bytes=settings.max_upload_file_mb << 20)
    except UploadTooLarge as exc:
        return _refuse(request, viewer, 413, f"文件过大:{exc.file} 超过单个文件 {exc.limit >> 20} MiB 的上限"
                       "(设置 max_upload_file_mb)", None, "files")
    except MultiPartException as exc:
        return _refuse(request, viewer, 400, f"上传的表单无法读取:{exc.message}", None)
    try:
        return await _start(request, viewer, form, sent)
    finally:
        await close_form(form)


async def _start(request: Request, viewer: Viewer, form: FormData, sent: str | None) -> Response:
    if not sent:
        value = form.get("csrf")
        auth.check_csrf(viewer, value if isinstance(value, str) else None)
    year_text = form.get("year")
    try:
        year = int(year_text) if isinstance(year_text, str) else 0
    except ValueError:
        year = 0
    if not 1990 <= year <= 2200:
        return _refuse(request, viewer, 422, f"年度无效:{year_text}", None, "year")
    county_text = form.get("county")
    county = (county_text if isinstance(county_text, str) else "").strip()[:12] or viewer.actor.county
    if county != viewer.actor.county:
        return _refuse(request, viewer, 403, f"只能筛查本县(区)({viewer.actor.county})的数据,不能筛查 {county}", year,
                       "county")
    files = [value for value in form.getlist("files") if isinstance(value, UploadFile)]
    names = [Path(upload.filename or "").name for upload in files]
    if not names or any(not name for name in names):
        return _refuse(request, viewer, 422, "请选择至少一个 .csv 或 .xlsx 文件", year, "files")
    wrong = [name for name in names if not name.lower().endswith(SUFFIXES) or name.startswith(".")]
    if wrong:
        return _refuse(request, viewer, 422, f"只接受 .csv 和 .xlsx 文件:{'、'.join(wrong)}", year, "files")
    if len(set(names)) != len(names):
        return _refuse(request, viewer, 422, "有重名文件:同一批数据中每个文件名只能出现一次", year, "files")
    pack_dir = getattr(request.app.state, "pack_dir", None)
    try:
        resolve_pack(year, pack_dir)
    except FangpinError as exc:
        years = "、".join(str(y) for y in _years(request))
        message = (f"{year} 年度没有可用的规则包:现行规则包适用于 {years} 年度,请改选年度。" if years
                   else f"{year} 年度没有可用的规则包:{exc}")
        return _refuse(request, viewer, 422, message, year, "year")
    folder = new_drop_folder()
    try:
        for name, upload in zip(names, files, strict=True):
            with (folder / name).open("wb") as handle:
                while chunk := await upload.read(CHUNK):
                    handle.write(chunk)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _refuse(request, viewer, 500, f"保存上传文件失败:{exc}", year)
    try:
        job = jobs.enqueue(database_url(request), county=county, year=year, user=viewer.actor.name, files=names,
                           drop_dir=folder, runs_dir=runs_dir(request), pack_dir=pack_dir,
                           sources_dir=get_settings().sources_dir,
                           max_file_bytes=get_settings().max_upload_file_mb << 20)  # as read_form checked
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # not queued: nobody else will remove the upload
        raise
    target = f"/console/screening/jobs/{job['id']}"
    if wants_json(request):
        return json_answer({"job_id": job["id"], "url": target}, 202)
    return RedirectResponse(target, status_code=303)


def _job_for(request: Request, viewer: Viewer, job_id: str) -> dict[str, object] | None:
    job = jobs.get(database_url(request), job_id)
    if job is None or job["kind"] != "screen":  # a simulation has its own page (routes.simulate)
        return None
    auth.same_county(viewer, str(job["county"]), "该筛查任务")
    return job


@router.get("/screening/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: str, viewer: Annotated[Viewer, Depends(auth.page("screening"))]) -> Response:
    job = _job_for(request, viewer, job_id)
    if job is None:
        return error_page(request, 404, "没有这个筛查任务", f"筛查任务 {job_id} 不存在或已过期", viewer)
    return render(request, "job.html", {"job": job, "stages": list(STAGE_ORDER)}, viewer=viewer)


@router.get("/api/jobs/{job_id}", include_in_schema=False)
def job_state(request: Request, job_id: str, viewer: Annotated[Viewer, Depends(auth.data("screening"))]) -> Response:
    """For polling (once a second) where server-sent events are not available."""
    job = _job_for(request, viewer, job_id)
    if job is None:
        return json_answer({"status": 404, "detail": f"no screening job {job_id}"}, 404)
    return json_answer(job)


@router.get("/api/jobs/{job_id}/events", include_in_schema=False)
def job_events(request: Request, job_id: str, viewer: Annotated[Viewer, Depends(auth.data("screening"))]) -> Response:
    """Server-sent events: the job's state each time it changes, until it is done or failed."""
    url = database_url(request)
    if _job_for(request, viewer, job_id) is None:
        return json_answer({"status": 404, "detail": f"no screening job {job_id}"}, 404)

    async def events() -> AsyncIterator[str]:
        last = None
        idle = 0
        while True:
            job = await run_in_threadpool(jobs.get, url, job_id)
            if job is None:
                return
            text = json.dumps(job, ensure_ascii=False)
            if text != last:
                last, idle = text, 0
                yield f"event: progress\ndata: {text}\n\n"
            else:
                idle += 1
                if idle % 30 == 0:
                    yield ": keep-alive\n\n"
            if job["state"] not in ACTIVE:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.3)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
