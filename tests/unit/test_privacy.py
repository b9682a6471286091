"""The least-privilege policy's masks and scopes (fangpin.privacy), pure."""

from __future__ import annotations

import pytest

from fangpin import privacy
from fangpin.claims import ROLES


def test_an_id_number_shows_its_first_six_and_last_four_characters_only() -> None:
    assert privacy.mask_id("13043419800101001X") == "130434********001X"
    assert privacy.mask_id("130434800101001") == "130434********1001"  # 15 digits: the length is not told
    assert privacy.mask_id("12345") == "*****"
    assert privacy.mask_id(None) is None


def test_a_name_shows_its_first_character_only() -> None:
    assert (privacy.mask_name("张三"), privacy.mask_name("欧阳小明"), privacy.mask_name("王")) == ("张*", "欧***", "王")


def test_every_role_has_a_rule_for_every_field_and_only_office_and_surveyor_see_everything() -> None:
    assert set(privacy.POLICY) == set(ROLES)
    full = {role for role in ROLES if all(privacy.shows(role, field) for field in privacy.FIELDS)}
    assert full == {"office", "surveyor"}
    assert privacy.access("village", "name") == "full" and privacy.access("village", "id_number") == "masked"
    assert privacy.document_for("department", {"head_id": "1"}) is None
    assert privacy.access("intruder", "id_number") == "masked"


def test_a_search_is_kept_masked_never_the_id_number_in_clear() -> None:
    assert privacy.query_trace(" 13043419800101001x ") == "id:130434********001x"
    assert privacy.query_trace("1304341980010100") == "id:130434********0100"  # a part of one, too
    assert privacy.query_trace("赵大山") == "name:赵**"
    assert privacy.query_trace("130434-00") == "household:130434-00"


def test_rejected_values_that_are_id_numbers_are_masked_for_roles_without_them() -> None:
    assert privacy.rejected_value_for("auditor", "id_number", "130434199511095309") == "130434********5309"
    assert privacy.rejected_value_for("auditor", "note", "132122196306052930") == "132122********2930"
    assert privacy.rejected_value_for("office", "id_number", "130434199511095309") == "130434199511095309"
    assert privacy.rejected_value_for("auditor", "date", "2019/2/30") == "2019/2/30"


@pytest.mark.parametrize(("scope", "township", "village", "inside"), [
    ("东代固镇", "东代固镇", "东村", True), ("东代固镇/东村", "东代固镇", "东村", True),
    ("东代固镇/东村", "东代固镇", "西村", False), ("东代固镇", "魏城镇", "东村", False),
    ("东代固镇", None, None, False), (None, None, None, True),
])
def test_a_scope_is_a_township_or_one_village_of_it(scope: str | None, township: str | None,
                                                     village: str | None, inside: bool) -> None:
    assert privacy.in_scope(scope, township, village) is inside


@pytest.mark.parametrize("scope", ["/东村", "东代固镇/", "a/b/c"])
def test_a_malformed_scope_is_refused_naming_the_form(scope: str) -> None:
    with pytest.raises(ValueError, match="township or township/village"):
        privacy.parse_scope(scope)
