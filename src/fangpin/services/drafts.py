"""Draft packs: a pack folder uploaded as a zip (the console, the API), validated by ``load_pack`` like any
pack (errors name the file and the key), stored by its content hash under ``<runs>/drafts/<sha256>/`` as its
resolved files, and marked draft: it can be simulated (``services.simulate``), never used to pay
(``services.resolve_pack`` refuses a folder with the marker).

A draft states only what changes from a shipped pack with ``extends: <pack id>``, or is a whole pack.
The zip is read within limits: its size, the number of files, each file's size once unpacked, names inside
the folder, and only text files of a pack (``.yaml``, ``.yml``, ``.md``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from fangpin.claims import InvalidRequest
from fangpin.errors import PackError
from fangpin.exactyaml import load_yaml
from fangpin.money import to_decimal
from fangpin.packs import available_packs, load_pack
from fangpin.packs.loader import LABELS_FILE

DRAFT_MARKER = "DRAFT.json"
MAX_ZIP_BYTES = 1_000_000
MAX_FILES = 200
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 5_000_000
SUFFIXES = (".yaml", ".yml", ".md")
MAX_DEPTH = 4  # folder levels inside the pack (cases/<group>/<case>.yaml)
MAX_NAME = 200
HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Draft:
    hash: str
    id: str
    version: str
    years: tuple[int, ...]
    uploaded_by: str
    uploaded_at: str
    directory: Path


def drafts_root(runs_dir: Path) -> Path:
    return runs_dir / "drafts"


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(f"pack: {message}", field="pack")


def _members(data: bytes) -> dict[str, bytes]:
    """The zip's files by their path inside the pack folder (a single top folder is taken off)."""
    if len(data) > MAX_ZIP_BYTES:
        raise _bad(f"压缩文件有 {len(data):,} 字节,超过规则包草案上限 {MAX_ZIP_BYTES:,} 字节:请只压缩规则包文件夹")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _bad(f"不是 zip 压缩文件({exc}):请把规则包文件夹压缩为 .zip 后上传") from None
    if len(infos) > MAX_FILES:
        raise _bad(f"压缩文件内有 {len(infos)} 个文件,超过上限 {MAX_FILES} 个:"
                   "规则包只需 pack.yaml、parameters.yaml 和 rules.yaml")
    files: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or any(part.startswith(".") for part in name.parts):
            raise _bad(f"{info.filename}:文件名指向规则包文件夹之外或为隐藏文件,不允许")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise _bad(f"{info.filename}:是符号链接,不允许")
        if name.parts[0] == "__MACOSX":
            continue
        if info.file_size > MAX_FILE_BYTES:
            raise _bad(f"{info.filename}:解压后 {info.file_size:,} 字节,超过单个文件上限 {MAX_FILE_BYTES:,} 字节")
        with archive.open(info) as handle:
            content = handle.read(MAX_FILE_BYTES + 1)
        total += len(content)
        if len(content) > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
            raise _bad(f"{info.filename}:规则包解压后超过 {MAX_TOTAL_BYTES:,} 字节")
        if name.suffix not in SUFFIXES:
            raise _bad(f"{info.filename}:规则包中只能有 {'、'.join(SUFFIXES)} 文件")
        if len(name.parts) > MAX_DEPTH or len(str(name)) > MAX_NAME:
            raise _bad(f"{info.filename[:MAX_NAME]}:文件夹层级超过 {MAX_DEPTH} 层或文件名长于 {MAX_NAME} 个字符")
        if name.suffix != ".md":
            _plain_yaml(str(name), content)
        files[str(name)] = content
    if not files:
        raise _bad("压缩文件里没有文件")
    tops = {PurePosixPath(name).parts[0] for name in files}
    if "pack.yaml" not in files and len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in files):
        top = tops.pop()
        files = {str(PurePosixPath(name).relative_to(top)): content for name, content in files.items()}
    if "pack.yaml" not in files:
        raise _bad("压缩文件顶层(或其唯一的文件夹中)没有 pack.yaml:请压缩规则包文件夹本身")
    return files


def _plain_yaml(name: str, content: bytes) -> None:
    """UTF-8 YAML without aliases: a pack never needs them, and a few nested aliases make a small file
    expand beyond any memory when it is validated and hashed."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(f"{name}:不是 UTF-8 编码的文本,请以 UTF-8 保存") from None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise _bad(f"{name}:规则包草案中不允许使用 YAML 别名(*name)")
    except yaml.YAMLError as exc:
        raise _bad(f"{name}:无法按 YAML 读取({str(exc).splitlines()[0]})") from None


def _extends(files: dict[str, bytes]) -> None:
    try:
        meta = load_yaml(files["pack.yaml"].decode("utf-8"))
    except Exception as exc:  # the pack's own validation reports it with its key when loaded
        raise _bad(f"pack.yaml:无法按 YAML 读取({exc})") from None
    extends = meta.get("extends") if isinstance(meta, dict) else None
    if isinstance(extends, str) and ("/" in extends or "\\" in extends or extends.startswith(".")):
        raise _bad(f"pack.yaml:extends {extends!r}:草案只能以编号继承已发布的规则包,不能指向文件夹")


def store_draft(data: bytes, root: Path, uploaded_by: str, now: dt.datetime | None = None) -> Draft:
    """Validate the zipped pack and store it by its hash (again the same draft: the same folder)."""
    files = _members(data)
    _extends(files)
    with tempfile.TemporaryDirectory(prefix="fangpin-draft-") as scratch:
        folder = Path(scratch) / "draft"
        for name, content in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        for shipped in available_packs():  # the packs a draft may extend, beside it
            if shipped.directory.name != "draft":
                shutil.copytree(shipped.directory, Path(scratch) / shipped.directory.name)
        try:
            pack = load_pack(folder)
        except PackError as exc:  # it names the file and the key
            raise InvalidRequest(f"draft pack: {exc}", field="pack") from None
    target = root / pack.hash
    if not (target / DRAFT_MARKER).is_file():
        partial = root / f".{pack.hash}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name, text in pack.files.items():
            (partial / name).write_text(text, encoding="utf-8")
        if pack.sidecar and LABELS_FILE not in pack.files:  # the stored files are resolved: no ``extends`` left
            # to find the labels of the pack it extends by, so the labels read at upload are kept beside them
            # (labels.yaml is not hashed)
            (partial / LABELS_FILE).write_text(yaml.safe_dump({"parameters": pack.sidecar}, allow_unicode=True,
                                                               sort_keys=True), encoding="utf-8")
        (partial / DRAFT_MARKER).write_text(json.dumps({
            "id": pack.id, "version": pack.meta.version, "hash": pack.hash, "uploaded_by": uploaded_by,
            "uploaded_at": (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds"),
            "note": "a draft pack: it can be simulated, never used to pay"}, ensure_ascii=False, indent=2),
            encoding="utf-8")
        stored = load_pack(partial)
        if stored.hash != pack.hash:  # pragma: no cover - the resolved files are the pack
            raise _bad(f"保存的草案哈希为 {stored.hash[:12]},不是 {pack.hash[:12]}:草案已被改动")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return draft_of(target)


def draft_of(directory: Path) -> Draft:
    meta = json.loads((directory / DRAFT_MARKER).read_text("utf-8"))
    pack_meta = load_yaml((directory / "pack.yaml").read_text("utf-8"))
    return Draft(hash=directory.name, id=str(meta["id"]), version=str(meta["version"]),
                 years=tuple(int(y) for y in pack_meta.get("years", [])), uploaded_by=str(meta["uploaded_by"]),
                 uploaded_at=str(meta["uploaded_at"]), directory=directory)


def list_drafts(root: Path) -> list[Draft]:
    if not root.is_dir():
        return []
    found = [draft_of(path) for path in root.iterdir() if HASH.match(path.name) and (path / DRAFT_MARKER).is_file()]
    return sorted(found, key=lambda draft: draft.uploaded_at, reverse=True)


def is_draft(directory: Path) -> bool:
    return (Path(directory) / DRAFT_MARKER).is_file()


def pack_to_simulate(reference: str, root: Path) -> tuple[Path, bool]:
    """A pack named for a simulation: a shipped pack's id, or a stored draft's sha256. (folder, is draft)"""
    if HASH.match(reference):
        folder = root / reference
        if not (folder / DRAFT_MARKER).is_file():
            raise _bad(f"没有保存编号为 {reference[:12]} 的规则包草案")
        return folder, True
    for pack in available_packs():
        if pack.id == reference:
            return pack.directory, False
    raise _bad(f"没有名为 {reference!r} 的已发布规则包,也没有此哈希的草案")


def draft_from_changes(base: str, changes: dict[str, str], root: Path, uploaded_by: str, *, title: str = "",
                       now: dt.datetime | None = None) -> Draft:
    """A draft that extends the shipped pack ``base`` with some of its money and ratio parameters changed
    (the console's form): written as a pack folder, then stored as any uploaded draft."""
    pack = next((item for item in available_packs() if item.id == base), None)
    if pack is None:
        raise _bad(f"没有名为 {base!r} 的已发布规则包")
    if not changes:
        raise InvalidRequest("参数:请至少修改规则包的一个参数", field="parameters")
    entries: dict[str, Any] = {}
    for name, text in changes.items():
        parameter = pack.parameters.get(name)
        if parameter is None or parameter.type not in ("money", "ratio"):
            raise InvalidRequest(f"参数 {name}:不是规则包 {base} 中的金额或倍数参数",
                                 field=f"parameters.{name}")
        try:
            value = to_decimal(text)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"parameters.{name}: {exc}", field=f"parameters.{name}") from None
        if str(value) == str(getattr(parameter, "value", "")):
            continue
        entry = parameter.model_dump(mode="json", exclude_none=True)
        entry["value"] = str(value)  # validated with the pack: money in fen, ratios as the schema allows
        entry["source"] = {**entry.get("source", {}), "basis": "assumed",
                           "note": f"draft: changed from {getattr(parameter, 'value', '')}"}
        entries[name] = entry
    if not entries:
        raise InvalidRequest("参数:填写的每个值都与规则包相同,没有任何改变:请修改至少一个参数", field="parameters")
    meta = {"id": f"{pack.id}-draft", "title": title or f"{pack.meta.title}(草案)",
            "version": f"{pack.meta.version}-draft", "years": list(pack.meta.years),
            "source": f"a draft of {pack.id} made in the console by {uploaded_by}: "
                      + ", ".join(f"{name} {changes[name]}" for name in entries),
            "extends": pack.id}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # JSON is YAML: exact text, money quoted
        archive.writestr("pack.yaml", json.dumps(meta, ensure_ascii=False, indent=2))
        archive.writestr("parameters.yaml", json.dumps(entries, ensure_ascii=False, indent=2))
    return store_draft(buffer.getvalue(), root, uploaded_by, now)
