"""Every error a person can cause in the console is a page in Chinese that says what to do, never raw JSON
(the /v1 API and the console's own JSON calls keep problem+json); and the auditor's replay never calls a
replay 一致 when the stored and replayed sha256 differ."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Console, text_of

ENGLISH_SENTENCE = re.compile(r"\b(?:Not Found|not found|Field required|Input should|is not|value_error)\b")


def _a_chinese_page(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    text = text_of(response.text)
    assert not response.text.lstrip().startswith("{") and '"detail"' not in response.text
    assert not ENGLISH_SENTENCE.search(text), text
    assert 'id="error-page"' in response.text and "返回首页" in text
    return text


@pytest.mark.parametrize("path", ["/console/no-such-page", "/console/no-such-page/deeper", "/console/static/nope.js"])
def test_an_unknown_console_url_is_a_chinese_page(console: Console, path: str) -> None:
    text = _a_chinese_page(console.login("office").get(path), 404)

    assert "未找到" in text and "没有这个页面或资源" in text and "请检查地址" in text


def test_a_search_over_100_characters_is_a_chinese_page_naming_the_field(console: Console) -> None:
    text = _a_chinese_page(console.login("office").get("/console/households", params={"q": "赵" * 101}), 422)

    assert "填写有误" in text and "查询内容:过长(最多 100 个字符)" in text


def test_a_page_size_that_is_no_number_is_a_chinese_page(console: Console) -> None:
    text = _a_chinese_page(console.login("office").get("/console/claims", params={"size": "abc"}), 422)

    assert "每页条数:应为整数" in text


def test_the_console_s_json_calls_and_the_api_keep_problem_json(console: Console) -> None:
    office = console.login("office")

    api = office.get("/v1/no-such-thing")
    call = office.get("/console/no-such-page", headers={"Accept": "application/json"})

    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert call.status_code == 404 and "json" in call.headers["content-type"]


def test_replaying_a_decision_under_another_pack_is_never_called_identical(console: Console) -> None:
    console.open_claim()
    auditor = console.login("auditor")

    same = auditor.get("/console/audit/replay", params={"decision": 1})
    other = auditor.get("/console/audit/replay", params={"decision": 1, "pack": "handan-2020"})

    same_text, other_text = text_of(same.text), text_of(other.text)
    digests = re.findall(r"sha256 ([0-9a-f]{64})", other_text)
    assert "逐字节一致" in same_text and "不一致" not in same_text and "结果改变" not in same_text
    assert len(digests) == 2 and digests[0] != digests[1]
    badge = re.search(r'id="replay-result".*?<h2>(.*?)</h2>', other.text, re.S)
    assert badge is not None and ("不一致" in badge.group(1) or "结果改变" in badge.group(1))
    assert ">一致<" not in badge.group(1)
    assert "判定 #1" in other_text and "decision 1" not in other_text
