"""A screened household as a household document (SPEC section 9): what ``fangpin check`` takes, so any
household of a run can be checked on its own and must get the same decision."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from fangpin.facts import CAUSES
from fangpin.money import fen_text
from fangpin.screening.linking import Linked


def household_documents(linked: Linked) -> Iterator[dict[str, Any]]:
    events = linked.counted.sort(["household_id", "department", "event_id"]).partition_by(
        "household_id", as_dict=True
    )
    for facts in linked.facts.iter_rows(named=True):
        mine = events.get((facts["household_id"],), pl.DataFrame(schema=linked.counted.schema))
        document: dict[str, Any] = {
            "household_id": facts["household_id"],
            "year": facts["year"],
            "county": facts["county"],
            "township": facts["township"],
            "village": facts["village"],
            "head_name": facts["head_name"],
            "head_id": facts["head_id"],
            "status": facts["status"],
            "members": facts["members"],
            "labour_capacity": bool(facts["labour_capacity"]),
            "housing_secure": bool(facts["housing_secure"]),
            "illness": [], "schooling": [], "disaster": [],
            "paid_this_year": {cause: fen_text(facts[f"{cause}_paid_before"]) for cause in CAUSES},
        }
        if facts["income_given"] is not None:
            document["income"] = fen_text(facts["income_given"])
        else:
            document["income_per_capita"] = fen_text(facts["income_per_capita_given"])
        for event in mine.iter_rows(named=True):
            common = {"id": f"{event['department']}:{event['event_id']}", "date": event["date"].isoformat(),
                      "person_id": event["person_id"]}
            if event["cause"] == "illness":
                document["illness"].append({**common, "burden": fen_text(event["amount_fen"])})
            elif event["cause"] == "schooling":
                document["schooling"].append({**common, "stage": event["stage"], "full_time": event["full_time"],
                                              "tuition": fen_text(event["amount_fen"])})
            else:
                document["disaster"].append({**common, "kind": event["kind"], "loss": fen_text(event["amount_fen"])})
        yield {key: value for key, value in document.items() if value is not None}
