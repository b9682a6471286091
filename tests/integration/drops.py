"""Small hand-written data drops for precise screening scenarios."""

from __future__ import annotations

from pathlib import Path

from stdnum.cn import ric


def person(n: int, region: str = "130434", birth: str = "19800101") -> str:
    body = f"{region}{birth}{n:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum drops the last character


REGISTER_HEADER = "户编号,户主身份证号,户主姓名,乡镇,村,家庭人口数,家庭年可支配收入,户类型,住房安全有保障"
MEMBERS_HEADER = "户编号,身份证号,姓名,与户主关系,劳动技能"
MEDICAL_HEADER = "结算单号,身份证号,结算日期,医疗总费用,基本医保支付,大病保险支付,医疗救助支付,个人负担"


def write(folder: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def base_drop(folder: Path, medical_rows: list[str]) -> Path:
    """Two households: H1 never registered, 4 members, 4000 per capita; H2 exited, 5500 per capita (above
    the 2019 ceiling of 4800, below the 2020 one of 6000)."""
    write(folder, "register.csv", [
        REGISTER_HEADER,
        f"H1,{person(1)},张三,东代固镇,东村,4,16000.00,一般农户,是",
        f"H2,{person(2)},李四,东代固镇,西村,2,11000.00,脱贫户,是",
    ], encoding="gb18030")
    write(folder, "members.csv", [
        MEMBERS_HEADER,
        f"H1,{person(1)},张三,户主,普通劳动力",
        f"H1,{person(11)},王五,配偶,丧失劳动力",
        f"H2,{person(2)},李四,户主,技能劳动力",
    ])
    write(folder, "medical.csv", [MEDICAL_HEADER, *medical_rows])
    return folder


def settlement(sid: str, who: int, date: str, burden: str) -> str:
    """A settlement whose personal burden is exactly ``burden`` (total = burden + 1000 basic)."""
    total = f"{float(burden) + 1000:.2f}"
    return f"{sid},{person(who)},{date},{total},1000.00,0,0,{burden}"


# --- hostile files (issue 13): what a careless or malicious department could send ---------------------

def far_cell_xlsx(path: Path, *, dimension: bool = True) -> Path:
    """A few-KB workbook whose only far cell is XFD1048576: calamine would allocate the whole grid (16,384
    columns x 1,048,576 rows) and abort the process. Without ``dimension`` the sheet does not declare its
    size, so only the reading process's memory limit can catch it."""
    import re
    import zipfile

    import xlsxwriter

    plain = path.with_suffix(".plain.xlsx")
    with xlsxwriter.Workbook(plain) as workbook:
        sheet = workbook.add_worksheet()
        sheet.write("A1", "户编号")
        sheet.write("XFD1048576", "far")
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = source.read(name)
            if not dimension and name == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension[^>]*/>", b"", data)
            target.writestr(name, data)
    plain.unlink()
    return path


def zip_bomb_xlsx(path: Path, unpacked_mib: int = 300) -> Path:
    """A workbook whose sharedStrings.xml unpacks to ``unpacked_mib`` MiB from about a thousandth of that."""
    import zipfile

    import xlsxwriter

    plain = path.with_suffix(".plain.xlsx")
    with xlsxwriter.Workbook(plain) as workbook:
        workbook.add_worksheet().write("A1", "户编号")
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name != "xl/sharedStrings.xml":
                target.writestr(name, source.read(name))
        with target.open("xl/sharedStrings.xml", "w") as stream:
            stream.write(b"<sst>")
            block = b" " * (1 << 20)
            for _ in range(unpacked_mib):
                stream.write(block)
            stream.write(b"</sst>")
    plain.unlink()
    return path
