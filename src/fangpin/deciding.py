"""One household, one pack, one decision: facts → engine → amounts. Bulk, single and replay all call this."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from fangpin.decisions import CauseResult, Decision, FiredRule, PackRef
from fangpin.engine import PolicyEngine, engine_for
from fangpin.errors import DocumentError, EngineError, PackError
from fangpin.facts import CAUSES, Cause, Household
from fangpin.money import ZERO, from_fen, round_fen, to_fen
from fangpin.packs import Pack
from fangpin.packs.loader import CompiledRule
from fangpin.packs.schema import Benefit, Group, Rule
from fangpin.payouts import capped_amount, fee_on, increment, tier_slices

NO_CLAWBACK_NOTE = "{cause}: already paid {paid} exceeds the {owed} now owed; nothing is reclaimed"


def per_capita_income(household: Household) -> Decimal:
    """Household income over members, rounded half-up to fen; the per-capita figure as given otherwise."""
    if household.income is not None:
        with localcontext() as context:
            context.prec = 50
            return round_fen(household.income / household.members)
    assert household.income_per_capita is not None
    return household.income_per_capita


def cause_bases(household: Household, pack: Pack) -> dict[Cause, Decimal]:
    """Each cause's annual base: what the pack says counts, summed over the policy year."""
    bases = pack.rules_file.bases
    counted_stages = set(pack.labels(bases.schooling_stages))
    compulsory = set(pack.labels(bases.compulsory_stages))
    kinds = set(pack.labels(bases.disaster_kinds))
    schooling = ZERO
    for index, event in enumerate(household.schooling):
        if event.stage not in counted_stages and event.stage not in compulsory:
            known = "、".join([*pack.labels(bases.schooling_stages), *pack.labels(bases.compulsory_stages)])
            raise DocumentError(
                f"schooling[{index}].stage: {event.stage!r} is not a stage the pack knows ({known})",
                field=f"schooling[{index}].stage",
            )
        if event.full_time and event.stage in counted_stages:
            schooling += event.tuition + event.accommodation + event.textbooks
    return {
        "illness": sum((event.burden for event in household.illness), ZERO),
        "schooling": schooling,
        "disaster": sum(
            (max(ZERO, event.loss - event.compensation) for event in household.disaster if event.kind in kinds),
            ZERO,
        ),
    }


def engine_facts(household: Household, pack: Pack) -> dict[str, int | str]:
    bases = cause_bases(household, pack)
    return {
        "status": household.status,
        "per_capita_income": to_fen(per_capita_income(household)),
        "members": household.members,
        "labour_capacity": int(household.labour_capacity),
        "housing_secure": int(household.housing_secure),
        "illness_base": to_fen(bases["illness"]),
        "schooling_base": to_fen(bases["schooling"]),
        "disaster_base": to_fen(bases["disaster"]),
    }


@dataclass(frozen=True)
class Subject:
    """Who a decision is about: identity only, no facts."""

    household_id: str
    year: int
    county: str
    township: str | None = None
    village: str | None = None


def subject_of(household: Household) -> Subject:
    return Subject(household.household_id, household.year, household.county, household.township, household.village)


def paid_before_of(household: Household) -> dict[Cause, Decimal]:
    return {cause: household.paid_this_year.of(cause) for cause in CAUSES}


def decide(household: Household, pack: Pack, engine: PolicyEngine | None = None) -> Decision:
    return decide_facts(subject_of(household), engine_facts(household, pack), paid_before_of(household), pack, engine)


def decide_facts(
    subject: Subject,
    facts: dict[str, int | str],
    paid_before: dict[Cause, Decimal],
    pack: Pack,
    engine: PolicyEngine | None = None,
) -> Decision:
    """Decide from engine facts and what was already paid this year: how single checks, bulk screening
    and replay of stored facts all arrive at a decision."""
    fired_ids = (engine or engine_for(pack)).fire(facts)
    return decision_from(subject, pack, facts, fired_ids, paid_before)


def decision_from(
    subject: Subject,
    pack: Pack,
    facts: dict[str, int | str],
    fired_ids: tuple[str, ...],
    paid_before_by_cause: dict[Cause, Decimal],
) -> Decision:
    """Turn the fired rules into a decision; only arithmetic on what the rules chose happens here."""
    chosen = classify(pack, fired_ids, facts)
    fired, group, terminal, benefits = chosen.fired, chosen.group, chosen.terminal, chosen.benefits
    notes = list(chosen.notes)
    bases = {cause: from_fen(int(facts[f"{cause}_base"])) for cause in CAUSES}
    results: list[CauseResult] = []
    for cause in CAUSES:
        paid_before = paid_before_by_cause[cause]
        if terminal or group is None:
            results.append(CauseResult(cause=cause, base=bases[cause], paid_before=paid_before))
            continue
        terms = benefits.get(cause) or pack.benefit(cause, group.id)
        result = _cause_result(cause, bases[cause], terms, cause in benefits, paid_before, pack)
        if result.owed < paid_before:
            notes.append(NO_CLAWBACK_NOTE.format(cause=cause, paid=paid_before, owed=result.owed))
        results.append(result)
    payout = sum((result.increment for result in results), ZERO)
    fee = fee_on(payout, pack.rate(pack.rules_file.fee.rate))
    if terminal:
        outcome = terminal
    elif not benefits:
        outcome = "below_deductible"
    else:
        outcome = "pay" if payout > 0 else "already_paid"
    return Decision(
        household_id=subject.household_id,
        year=subject.year,
        county=subject.county,
        township=subject.township,
        village=subject.village,
        group=None if terminal == "not_covered" or group is None else group.id,
        group_label=None if terminal == "not_covered" or group is None else group.label,
        outcome=outcome,
        per_capita_income=from_fen(int(facts["per_capita_income"])),
        causes=tuple(results),
        payout=payout,
        fee=fee,
        rules=tuple(_fired_rule(rule) for rule in fired),
        notes=tuple(notes),
        engine_facts=facts,
        pack=PackRef(id=pack.id, version=pack.meta.version, hash=pack.hash),
    )


@dataclass(frozen=True)
class Classification:
    """What the fired rules say, before any arithmetic: the same for every household whose facts fall
    in one threshold class, which is how bulk screening applies it to many households at once."""

    fired: tuple[CompiledRule, ...]
    group: Group | None
    terminal: str | None  # not_covered or refer_dibao: ends the decision before any cause
    benefits: dict[Cause, Benefit]
    notes: tuple[str, ...]


def classify(pack: Pack, fired_ids: tuple[str, ...], facts: dict[str, int | str]) -> Classification:
    fired = tuple(pack.rule(rule_id) for rule_id in fired_ids)
    groups = [rule.source for rule in fired if isinstance(rule.source, Group)]
    outcomes = {rule.source.then.outcome for rule in fired if isinstance(rule.source, Rule)} - {None}
    notes = tuple(rule.source.then.note for rule in fired if isinstance(rule.source, Rule) and rule.source.then.note)
    benefits = {rule.source.cause: rule.source for rule in fired if isinstance(rule.source, Benefit)}
    if len(groups) > 1:
        raise PackError(f"pack {pack.id}: groups {[g.id for g in groups]} all hold for the facts {facts}")
    group = groups[0] if groups else None
    if group is None and "not_covered" not in outcomes:
        raise EngineError(f"pack {pack.id} decided nothing for the facts {facts}")
    terminal = "not_covered" if "not_covered" in outcomes else "refer_dibao" if "refer_dibao" in outcomes else None
    return Classification(fired, group, terminal, benefits, notes)


def _cause_result(
    cause: Cause, base: Decimal, terms: Benefit | None, fired: bool, paid_before: Decimal, pack: Pack
) -> CauseResult:
    if terms is None:
        return CauseResult(cause=cause, base=base, paid_before=paid_before)
    deductible = pack.amount(terms.deductible)
    if not fired:
        return CauseResult(cause=cause, base=base, deductible=deductible, paid_before=paid_before)
    excess = base - deductible
    slices = tier_slices(excess, pack.schedule(terms.tiers))
    uncapped = sum((piece.amount for piece in slices), ZERO)
    cap = pack.amount(terms.cap)
    owed, was_capped = capped_amount(uncapped, cap)
    return CauseResult(
        cause=cause,
        base=base,
        rule=terms.id,
        deductible=deductible,
        excess=excess,
        tiers=slices,
        uncapped=uncapped,
        cap=cap,
        capped=was_capped,
        owed=owed,
        paid_before=paid_before,
        increment=increment(owed, paid_before),
    )


def _fired_rule(rule: CompiledRule) -> FiredRule:
    source = rule.source
    if isinstance(source, Group):
        return FiredRule(id=rule.id, description=f"{source.label} ({source.id})", effect={"group": source.id},
                         cites=source.cites)
    if isinstance(source, Rule):
        effect = {"outcome": source.then.outcome} if source.then.outcome else {"note": source.then.note or ""}
        return FiredRule(id=rule.id, description=source.description, effect=effect, cites=source.cites)
    return FiredRule(
        id=rule.id,
        description=source.description,
        effect={"cause": source.cause, "deductible": source.deductible, "tiers": source.tiers, "cap": source.cap},
        cites=source.cites,
    )
