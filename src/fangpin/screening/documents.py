"""A screened household as a household document (docs/policy.md section 9): what ``fangpin check`` takes, so any
household of a run can be checked on its own and must get the same decision."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from fangpin.money import fen_text
from fangpin.packs import Pack
from fangpin.screening.linking import LinkedFrames


def household_documents(linked: LinkedFrames, pack: Pack) -> Iterator[dict[str, Any]]:
    """Each household's document: an event carries its code and bool fields and its contribution as its
    cause's first added amount (the other amounts 0.00), which gives the same base under the pack."""
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
            **{cause: [] for cause in pack.cause_ids},
            "paid_this_year": {cause: fen_text(facts[f"{cause}_paid_before"]) for cause in pack.cause_ids},
        }
        if facts["income_given"] is not None:
            document["income"] = fen_text(facts["income_given"])
        else:
            document["income_per_capita"] = fen_text(facts["income_per_capita_given"])
        for event in mine.iter_rows(named=True):
            if event["cause"] not in document:
                continue
            cause = pack.structure.cause(event["cause"])
            item: dict[str, Any] = {"id": f"{event['department']}:{event['event_id']}",
                                    "date": event["date"].isoformat(), "person_id": event["person_id"]}
            for spec in cause.fields:
                if spec.type == "money":
                    item[spec.name] = fen_text(event["amount_fen"] if spec.name == cause.base.add[0] else 0)
                elif event.get(spec.name) is not None:
                    item[spec.name] = event[spec.name]
            document[cause.id].append(item)
        yield {key: value for key, value in document.items() if value is not None and value != []}
