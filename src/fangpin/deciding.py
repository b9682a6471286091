"""One household, one pack, one decision: facts → engine → amounts. Bulk, single and replay all call this."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from fangpin.decisions import CauseResult, Decision, DerivedValue, FiredRule, PackRef
from fangpin.engine import PolicyEngine, engine_for
from fangpin.errors import EngineError, PackError
from fangpin.facts import Household
from fangpin.money import ZERO, from_fen, round_fen, to_fen
from fangpin.packs import Pack
from fangpin.packs.events import cause_bases, status_code
from fangpin.packs.formulas import evaluate
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


def engine_facts(household: Household, pack: Pack) -> dict[str, int | str]:
    """The facts the engine sees: the household's own, each cause's base and the pack's derived facts."""
    bases = cause_bases(household, pack)
    facts: dict[str, int | str] = {
        "status": status_code(household, pack),
        "per_capita_income": to_fen(per_capita_income(household)),
        "members": household.members,
        "labour_capacity": int(household.labour_capacity),
        "housing_secure": int(household.housing_secure),
        **{f"{cause}_base": to_fen(bases[cause]) for cause in pack.cause_ids},
    }
    return with_derived(facts, pack)


def with_derived(facts: dict[str, int | str], pack: Pack) -> dict[str, int | str]:
    """The facts with the pack's derived facts added, in the pack's order (each may use the ones before)."""
    for derived in pack.structure.derived:
        facts[derived.id] = evaluate(derived.formula, facts)
    return facts


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


def paid_before_of(household: Household, pack: Pack) -> dict[str, Decimal]:
    return {cause: household.paid_of(cause) for cause in pack.cause_ids}


def decide(household: Household, pack: Pack, engine: PolicyEngine | None = None) -> Decision:
    facts = engine_facts(household, pack)
    return decide_facts(subject_of(household), facts, paid_before_of(household, pack), pack, engine)


def decide_facts(
    subject: Subject,
    facts: dict[str, int | str],
    paid_before: dict[str, Decimal],
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
    paid_before_by_cause: dict[str, Decimal],
) -> Decision:
    """Turn the fired rules into a decision; only arithmetic on what the rules chose happens here."""
    chosen = classify(pack, fired_ids, facts)
    fired, group, terminal, benefits = chosen.fired, chosen.group, chosen.terminal, chosen.benefits
    notes = list(chosen.notes)
    bases = {cause: from_fen(int(facts[f"{cause}_base"])) for cause in pack.cause_ids}
    results: list[CauseResult] = []
    for cause in pack.cause_ids:
        paid_before = paid_before_by_cause.get(cause, ZERO)
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
        derived=tuple(_derived_value(item.id, item.label, item.type, facts) for item in pack.structure.derived),
        engine_facts=facts,
        pack=PackRef(id=pack.id, version=pack.meta.version, hash=pack.hash),
    )


def _derived_value(fact: str, label: str, kind: str, facts: dict[str, int | str]) -> DerivedValue:
    value = int(facts[fact])
    return DerivedValue(id=fact, label=label, value=from_fen(value) if kind == "money" else Decimal(value))


@dataclass(frozen=True)
class Classification:
    """What the fired rules say, before any arithmetic: the same for every household whose facts fall
    in one threshold class, which is how bulk screening applies it to many households at once."""

    fired: tuple[CompiledRule, ...]
    group: Group | None
    terminal: str | None  # not_covered or refer_dibao: ends the decision before any cause
    benefits: dict[str, Benefit]
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
    cause: str, base: Decimal, terms: Benefit | None, fired: bool, paid_before: Decimal, pack: Pack
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
