"""Reading the console's upload form after the session is checked, with a limit on every file.

FastAPI parses a route's ``File``/``Form`` parameters before its dependencies run, that is before the
sign-in check; the upload route therefore takes neither and calls :func:`read_form` itself once the
viewer is known. Files are spooled to temporary files (``tempfile``'s folder) and cut off at the per-file
limit: the parser stops, every temporary file is closed (and so deleted) and ``UploadTooLarge`` names the
file and the limit. The request as a whole is limited by ``api.limits.BodyLimit``.
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request


class UploadTooLarge(Exception):
    def __init__(self, file: str, limit: int) -> None:
        self.file = file
        self.limit = limit
        super().__init__(f"{file}: 超过单个文件的上限 {limit >> 20} MiB(设置项 max_upload_file_mb):"
                         "请拆分文件或请管理员调高上限")


class _CappedParser(MultiPartParser):
    def __init__(self, request: Request, max_file_bytes: int, max_files: int) -> None:
        super().__init__(request.headers, request.stream(), max_files=max_files, max_fields=50)
        self.max_file_bytes = max_file_bytes
        self._sizes: dict[int, int] = {}

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current_part.file
        if upload is not None:
            size = self._sizes.get(id(upload), 0) + end - start
            self._sizes[id(upload)] = size
            if size > self.max_file_bytes:
                raise UploadTooLarge(upload.filename or "?", self.max_file_bytes)
        super().on_part_data(data, start, end)


async def read_form(request: Request, *, max_file_bytes: int, max_files: int = 100) -> FormData:
    """The multipart form of ``request``; raises UploadTooLarge, or MultiPartException for a malformed one."""
    parser = _CappedParser(request, max_file_bytes, max_files)
    return await parser.parse()


async def close_form(form: FormData) -> None:
    for _, value in form.multi_items():
        if isinstance(value, UploadFile):
            await value.close()


__all__ = ["MultiPartException", "UploadTooLarge", "close_form", "read_form"]
