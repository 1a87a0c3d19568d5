"""Carry out a plan phase by phase — the only place a run talks to the broker and the database —
publishing every step as an event and collecting errors instead of raising them, so every
position gets its turn."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, TypeVar

import structlog

from engine.broker.errors import (
    AmbiguousSubmit,
    BrokerError,
    BrokerRejected,
    BrokerUnreachable,
    OrderNotFound,
)
from engine.broker.protocol import Broker
from engine.broker.status_map import meaning_of
from engine.clock import SYSTEM_CLOCK, Clock
from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    LocalOrder,
    NewOrder,
    OrderClass,
    OrderState,
)
from engine.reconcile.actions import PROTECTING_KINDS, ActionKind, Phase, Plan, PlanAction
from engine.reconcile.diff import STOP_TYPES
from engine.reconcile.events import (
    ActionFailed,
    ActionSkipped,
    ActionStarted,
    ActionSucceeded,
    Decision,
    DecisionAnswer,
    DecisionCallback,
    DecisionNeeded,
    Listener,
    PhaseFinished,
    PhaseProgress,
    PhaseStarted,
    StopConfirmed,
    StopSubmitted,
)
from engine.reconcile.outcomes import (
    ActionResult,
    ExecutionReport,
    JournalEntry,
    Outcome,
    Refusal,
)
from engine.store import PASSING_FAULTS, StoreError

if TYPE_CHECKING:
    from engine.broker.trade_updates import TradeUpdates

T = TypeVar("T")
log = structlog.get_logger("recon.execute")

AMBIGUOUS_SUBMIT_ATTEMPTS = 3  # lost answers tolerated for one submission
CONFIRMATION_POLLS = 20
CONFIRMATION_POLL_SECONDS = 0.25
# Alpaca's code for a request the account may not make now, and the rules behind it that refuse
# a market order on the same shares as surely as a stop: a wash trade, shares held by another
# order, an account that takes no orders.
FORBIDDEN_CODE = 40310000
SYMBOL_RULES = (
    "wash trade",
    "insufficient qty",
    "rejected by user request",
    "not authorized to trade",
    "trading is blocked",
    "account is blocked",
)
# Alpaca's code for an order whose own terms break a rule: its price against the market, its
# tick, its time in force, a fraction where whole shares are due.
UNPROCESSABLE_CODE = 42210000
# Alpaca's code for an invalid request; with "client_order_id" in the message it means the id
# was used before, i.e. an earlier attempt of ours did reach the broker.
DUPLICATE_CLIENT_ORDER_ID_CODE = 40010001


class Ledger(Protocol):
    """The database side of each action: one transaction per call, `order_event` included."""

    async def apply_broker_state(
        self,
        local: LocalOrder,
        new_state: OrderState,
        broker: BrokerOrder | None,
        *,
        event_type: str,
        detail: str,
        journal: JournalEntry,
    ) -> None: ...

    async def insert_order(
        self, row: LocalOrder, *, event_type: str, detail: str, journal: JournalEntry
    ) -> None: ...

    async def record_planned(self, actions: Sequence[PlanAction]) -> None: ...

    async def record_decision(self, seq: int, answer: DecisionAnswer) -> None: ...

    async def record_outcome(self, entry: JournalEntry) -> None: ...


class ChangeNotRecorded(Exception):
    """The broker took a change the database could not record: what the operator, and the next
    run, need to find it by."""


class StopNotPlaced(Exception):
    """The broker refused the order, or took it and then ended it unfilled; `refusal` says
    whether a rule of the broker's forbade it, and which kind."""

    def __init__(self, message: str, refusal: Refusal) -> None:
        super().__init__(message)
        self.refusal = refusal


class Executor:
    """Carries out the plans of one run, round by round, into one report."""

    def __init__(
        self,
        *,
        broker: Broker,
        ledger: Ledger,
        decide: DecisionCallback,
        emit: Listener,
        now: Callable[[], datetime],
        updates: TradeUpdates | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._broker = broker
        self._updates = updates
        self._ledger = ledger
        self._decide = decide
        self._emit = emit
        self._now = now
        self._clock = clock
        self.report = ExecutionReport()
        # Set once a request that may change the broker's book has gone out this round.
        self._wrote = False
        # The number the next action carried out is journaled under: a run's rounds count on.
        self._next_seq = 1
        self._rounds = 0
        # Set once the database refuses a write after something was changed: nothing more is
        # changed that it could not record either.
        self.database_failure: str | None = None

    @property
    def changed_broker(self) -> bool:
        """Whether the last round sent the broker anything that may have changed its book."""
        return self._wrote

    async def run(self, plan: Plan) -> list[ActionResult]:
        """One round: its phases in order, up to the first that sent the broker anything — what
        follows it is planned again from a fresh read. The results of this round."""
        self._wrote = False
        first = len(self.report.results)
        # Decisions come one at a time, in the plan's order.
        orders = plan.in_phase(Phase.ORDERS)
        await self._run_phase(Phase.ORDERS, *((action,) for action in orders))
        positions = plan.in_phase(Phase.POSITIONS)
        if not self._wrote:
            # Surplus comes off first, so the stops that follow find the shares free; then
            # every stop together, since each second a position sits unprotected is risk.
            await self._run_phase(
                Phase.POSITIONS,
                tuple(a for a in positions if a.kind is ActionKind.REDUCE_SURPLUS_STOP),
                tuple(a for a in positions if a.kind in PROTECTING_KINDS),
                tuple(a for a in positions if a.kind is ActionKind.SYNTHETIC_ENTRY),
            )
        self._rounds += 1
        return self.report.results[first:]

    async def _run_phase(self, phase: Phase, *stages: tuple[PlanAction, ...]) -> None:
        """Each stage's actions run together; a stage starts when the one before has ended.
        They are numbered and journaled before the first of them is carried out."""
        stages = tuple(tuple(self._numbered(action) for action in stage) for stage in stages)
        total = sum(len(stage) for stage in stages)
        if not total:
            if not self._rounds:  # later rounds leave a pane as the round that acted left it
                self._emit(PhaseStarted(phase, total=0))
                self._emit(PhaseFinished(phase, done=0, total=0, errors=0))
            return
        if self.database_failure is not None:
            return
        try:
            await self._ledger.record_planned([action for stage in stages for action in stage])
        except StoreError as exc:
            if not self.report.results:
                raise  # nothing has changed anywhere yet: the run stops before its first change
            self._database_failed(str(exc))
            return
        self._emit(PhaseStarted(phase, total=total))
        errors_before = len(self.report.errors)
        done = 0

        async def step(action: PlanAction) -> None:
            nonlocal done
            await self._run_action(action)
            done += 1
            self._emit(PhaseProgress(phase, done=done, total=total, current=action.reason))

        for stage in stages:
            await asyncio.gather(*(step(action) for action in stage))
        errors = len(self.report.errors) - errors_before
        self._emit(PhaseFinished(phase, done=done, total=total, errors=errors))

    def _numbered(self, action: PlanAction) -> PlanAction:
        self._next_seq += 1
        return action.numbered(self._next_seq - 1)

    async def _run_action(self, action: PlanAction) -> None:
        if self.database_failure is not None:
            return  # not even begun: the report says why, once
        self._emit(ActionStarted(action))
        try:
            result = await self._perform(action)
        # The database refusing writes for now, the ledger's tries spent: whatever recon
        # changes next, it could not record either.
        except (ChangeNotRecorded, *PASSING_FAULTS) as exc:
            self._database_failed(str(exc))
            result = ActionResult(action, Outcome.FAILED, _one_line(exc), journaled=True)
        except Exception as exc:  # collected, not raised: the next position still gets its turn
            # The report keeps one line; the log keeps the traceback, so a bug is never
            # reduced to that line alone.
            log.exception(
                "action_failed", seq=action.seq, kind=str(action.kind), symbol=action.symbol
            )
            result = ActionResult(action, Outcome.FAILED, _one_line(exc))
        await self._finish(result)

    def _database_failed(self, error: str) -> None:
        if self.database_failure is None:
            self.database_failure = error
            log.error("database_refused_writes", error=error)
            self.report.errors.append(
                f"the database stopped taking writes ({error}); nothing more was changed"
            )

    async def _finish(self, result: ActionResult) -> None:
        self.report.results.append(result)
        action = result.action
        if result.outcome is Outcome.FAILED:
            self.report.errors.append(f"{action.kind} {action.symbol}: {result.detail}")
            self._emit(ActionFailed(result.action, result.detail))
        elif result.outcome is Outcome.SKIPPED:
            self._emit(ActionSkipped(result.action, result.detail))
        else:
            self._emit(ActionSucceeded(result.action, result.detail))
        if result.journaled or self.database_failure is not None:
            return
        try:
            await self._ledger.record_outcome(result.journal_entry)
        except Exception as exc:
            log.exception("journal_outcome_failed", seq=result.action.seq)
            self.report.errors.append(f"journal: outcome of action {result.action.seq}: {exc}")

    async def _perform(self, action: PlanAction) -> ActionResult:
        match action.kind:
            case (
                ActionKind.TAKE_BROKER_STATE
                | ActionKind.FOLLOW_REPLACEMENT
                | ActionKind.ADOPT_SUBMITTED
                | ActionKind.MARK_SUBMIT_FAILED
            ):
                return await self._apply_state(action)
            case (
                ActionKind.ADOPT_ORPHAN_STOP
                | ActionKind.ADOPT_ORPHAN_GROUP
                | ActionKind.SYNTHETIC_ENTRY
            ):
                row = _required(action.new_row, action)
                return await self._insert(
                    ActionResult(action, Outcome.SUCCEEDED, f"recorded {row.local_id}"),
                    row,
                    action.reason,
                )
            case ActionKind.CANCEL_ORPHAN | ActionKind.CANCEL_BLOCKING_ORDER:
                return await self._cancel_decided(action)
            case ActionKind.EMERGENCY_STOP:
                order = _required(action.new_order, action)
                return await self._protect(action, order, _required(action.new_row, action))
            case ActionKind.OCO_EXIT:
                return await self._oco_exit(action)
            case ActionKind.MARKET_EXIT:
                return await self._exit_at_market(action)
            case ActionKind.REDUCE_SURPLUS_STOP:
                return await self._reduce_surplus(action)

    async def _apply_state(self, action: PlanAction) -> ActionResult:
        local = _required(action.local_order, action)
        new_state = action.new_state or local.state
        result = ActionResult(
            action,
            Outcome.SUCCEEDED,
            f"{local.local_id}: {local.state} → {new_state}",
            journaled=True,
        )
        await self._ledger.apply_broker_state(
            local,
            new_state,
            action.broker_order,
            event_type=action.kind,
            detail=action.reason,
            journal=result.journal_entry,
        )
        return result

    async def _insert(self, result: ActionResult, row: LocalOrder, detail: str) -> ActionResult:
        """Record a row and the action's outcome together."""
        journaled = replace(result, journaled=True)
        try:
            await self._ledger.insert_order(
                row, event_type=result.action.kind, detail=detail, journal=journaled.journal_entry
            )
        except PASSING_FAULTS as exc:
            raise _not_recorded(row.local_id, row.broker_id, row.client_order_id, exc) from exc
        return journaled

    async def _cancel_decided(self, action: PlanAction) -> ActionResult:
        """Cancel an orphan or a blocking order once the operator says so."""
        self._emit(DecisionNeeded(action))
        answer = await self._decide(action)
        await self._ledger.record_decision(action.seq, answer)
        if answer.decision is Decision.DECLINED:
            return ActionResult(
                action, Outcome.SKIPPED, "kept: the operator declined", Decision.DECLINED
            )
        if answer.decision is Decision.UNDECIDED:
            return ActionResult(
                action, Outcome.SKIPPED, "kept: no operator decision", Decision.UNDECIDED
            )
        order = _required(action.broker_order, action)
        gone = await self._cancel(order)
        if gone is None or gone.status is not BrokerOrderStatus.CANCELED:
            state = "gone" if gone is None else gone.status
            return ActionResult(
                action, Outcome.SKIPPED, f"already {state}", Decision.CONFIRMED, gone
            )
        result = ActionResult(
            action, Outcome.SUCCEEDED, f"canceled {order.id}", Decision.CONFIRMED, gone
        )
        return await self._follow_locally(result, action.local_order, gone)

    async def _cancel(self, order: BrokerOrder) -> BrokerOrder | None:
        """Cancel and wait for the broker to report it closed — an order still open would make
        the broker refuse the stop that waits on it. The order as it ended, None if unknown."""
        self._wrote = True
        try:
            await self._broker.cancel_order(order.id)
        except BrokerRejected as exc:
            # Already filled, canceled or gone: the broker says why; nothing left to cancel.
            current = await self._current(order.id)
            if current is None or not meaning_of(current.status).is_open:
                return current
            raise exc
        status = order.status
        for _ in range(CONFIRMATION_POLLS):
            now = await self._current(order.id)
            if now is None or not meaning_of(now.status).is_open:
                return now
            status = now.status
            await self._clock.sleep(CONFIRMATION_POLL_SECONDS)
        raise StopNotPlaced(
            f"cancel of {order.id} not confirmed: still {status}", Refusal.UNFORESEEN
        )

    async def _follow_locally(
        self, result: ActionResult, local: LocalOrder | None, order: BrokerOrder
    ) -> ActionResult:
        """The local row of an order recon changed takes the broker's word for it, with the
        action's outcome in the same transaction."""
        if local is None or local.state.is_terminal:
            return result
        journaled = replace(result, journaled=True)
        try:
            await self._ledger.apply_broker_state(
                local,
                meaning_of(order.status).local_state or local.state,
                order,
                event_type=result.action.kind,
                detail=result.action.reason,
                journal=journaled.journal_entry,
            )
        except PASSING_FAULTS as exc:
            raise _not_recorded(local.local_id, order.id, order.client_order_id, exc) from exc
        return journaled

    async def _current(self, broker_id: str) -> BrokerOrder | None:
        try:
            return await self._broker.get_order(broker_id)
        except OrderNotFound:
            return None

    # Protection -----------------------------------------------------------------------------

    async def _protect(self, action: PlanAction, order: NewOrder, row: LocalOrder) -> ActionResult:
        """Send the stop once and hear it working. A refusal is reported with its kind, for
        the next read's plan to answer: different terms, another try, or nothing."""
        still_open = await self._still_open(action.blocked_by)
        if still_open:
            return ActionResult(
                action,
                Outcome.FAILED,
                f"stop not placed: {_listed(still_open)} is still open and Alpaca refuses a "
                f"stop while it is; {order.symbol} stays UNPROTECTED",
                refusal=Refusal.SYMBOL_RULE,
            )
        try:
            placed = await self._submit(order)
            self._emit(StopSubmitted(order.symbol, placed.id, order.qty))
            working = await self._confirmed(placed)
        except StopNotPlaced as exc:
            return ActionResult(
                action, Outcome.FAILED, f"stop not placed: {exc}", refusal=exc.refusal
            )
        return await self._record_stop(
            action,
            working,
            _recorded(row, working),
            f"stop {working.id} {order.side} {order.qty} at {order.stop_price} confirmed",
        )

    async def _exit_at_market(self, action: PlanAction) -> ActionResult:
        """The last resort once no stop the broker takes is left to try: unprotected shares are
        closed rather than left open to unlimited loss — never more than the position holds on
        its side as the broker reports it now, and nothing when it holds none."""
        exit_order = _required(action.new_order, action)
        row = _required(action.new_row, action)
        held = await self._held_now(exit_order)
        if held <= 0:
            return ActionResult(
                action, Outcome.SKIPPED, f"{exit_order.symbol} holds nothing to close any more"
            )
        exit_order = replace(exit_order, qty=min(exit_order.qty, held))
        try:
            placed = await self._submit(exit_order)
        except StopNotPlaced as exc:
            return ActionResult(
                action, Outcome.FAILED, f"market exit refused: {exc}", refusal=exc.refusal
            )
        self.report.market_exits += 1
        closed = ActionResult(
            action,
            Outcome.FAILED,
            f"{action.reason}; closed {exit_order.qty} at market as {placed.id}",
            broker_order=placed,
        )
        return await self._insert(
            closed, _recorded(replace(row, qty_requested=exit_order.qty), placed), action.reason
        )

    async def _held_now(self, closing: NewOrder) -> Decimal:
        """What the position holds that `closing` would close, read from the broker now."""
        position = await self._broker.get_position(closing.symbol)
        if position is None or position.side.closing_side is not closing.side:
            return Decimal(0)
        return position.qty

    async def _still_open(self, orders: tuple[BrokerOrder, ...]) -> list[BrokerOrder]:
        still_open = []
        for order in orders:
            current = await self._current(order.id)
            if current is not None and meaning_of(current.status).is_open:
                still_open.append(current)
        return still_open

    async def _oco_exit(self, action: PlanAction) -> ActionResult:
        """Cancel the take-profit that holds the shares, then place it again as an OCO exit with
        the emergency stop. A take-profit that ended since the read leaves its shares to the
        next read's plan."""
        take_profit = _required(action.broker_order, action)
        oco = _required(action.new_order, action)
        row = _required(action.new_row, action)
        current = await self._current(take_profit.id)
        if current is None or not meaning_of(current.status).is_open:
            status = "gone" if current is None else current.status
            return ActionResult(
                action,
                Outcome.SKIPPED,
                f"take-profit {take_profit.id} is {status} since the read; OCO not placed",
            )
        ended = await self._cancel(current)
        if ended is None or ended.status is not BrokerOrderStatus.CANCELED:
            status = "gone" if ended is None else ended.status
            return ActionResult(
                action, Outcome.SKIPPED, f"take-profit {take_profit.id} {status}; OCO not placed"
            )
        try:
            placed = await self._submit(oco)
            self._emit(StopSubmitted(oco.symbol, placed.id, oco.qty))
            working = await self._confirmed(placed)
        except StopNotPlaced as exc:
            return ActionResult(
                action,
                Outcome.FAILED,
                f"OCO refused ({exc}); take-profit {take_profit.id} lost, its shares are "
                "covered from the next read",
                refusal=exc.refusal,
            )
        if not placed.legs:
            # Found again by its client_order_id after a lost answer: that lookup lists no legs.
            placed = await self._broker.get_order(placed.id)
        stop_leg = next((leg for leg in placed.legs if leg.order_type in STOP_TYPES), None)
        if stop_leg is None:
            raise StopNotPlaced(
                f"OCO {placed.id} came back without its stop leg", Refusal.UNFORESEEN
            )
        recorded = replace(_recorded(row, stop_leg), client_order_id=stop_leg.client_order_id)
        return await self._record_stop(
            action,
            working,
            recorded,
            f"take-profit {take_profit.id} replaced by OCO {working.id}: limit "
            f"{oco.limit_price}, stop {stop_leg.id} at {oco.stop_price} confirmed",
        )

    async def _record_stop(
        self, action: PlanAction, working: BrokerOrder, row: LocalOrder, confirmed: str
    ) -> ActionResult:
        """Record the stop `row` stands for; it protects only once the broker reports
        `working` (the stop, or the OCO it is a leg of) working. One that filled as it arrived
        did its job: the shares it sold need no cover, and it is never sent again."""
        if working.filled_qty > 0 and not meaning_of(working.status).is_open:
            filled = ActionResult(
                action,
                Outcome.SUCCEEDED,
                f"stop {working.id} filled as it arrived: {working.filled_qty} closed at "
                f"{working.filled_avg_price}",
                broker_order=working,
            )
            return await self._insert(filled, row, action.reason)
        if not meaning_of(working.status).protects:
            pending = ActionResult(
                action,
                Outcome.FAILED,
                f"{'OCO' if working.order_class is OrderClass.OCO else 'stop'} {working.id} is "
                f"{working.status}, not yet confirmed working",
                broker_order=working,
            )
            return await self._insert(pending, row, action.reason)
        result = await self._insert(
            ActionResult(action, Outcome.SUCCEEDED, confirmed, broker_order=working),
            row,
            action.reason,
        )
        self._emit(StopConfirmed(row.symbol, row.broker_id or working.id, row.qty_requested))
        return result

    async def _reduce_surplus(self, action: PlanAction) -> ActionResult:
        """Take surplus shares off a stop: replace it by one for fewer shares, or cancel it when
        every share it covers is surplus. Its local row follows."""
        stop = _required(action.broker_order, action)
        if action.new_order is None:
            gone = await self._cancel(stop)
            if gone is None:
                return ActionResult(action, Outcome.SKIPPED, "already gone")
            result = ActionResult(
                action, Outcome.SUCCEEDED, f"canceled {stop.id}: every share surplus", None, gone
            )
            return await self._follow_locally(result, action.local_order, gone)
        terms = action.new_order
        replacement = await self._submit(
            terms, send=lambda: self._broker.replace_order(stop.id, terms)
        )
        working = await self._confirmed(replacement)
        result = ActionResult(
            action,
            Outcome.SUCCEEDED,
            f"{stop.id} replaced by {working.id} for {terms.qty}",
            broker_order=working,
        )
        return await self._follow_locally(result, action.local_order, working)

    async def _submit(
        self, order: NewOrder, send: Callable[[], Awaitable[BrokerOrder]] | None = None
    ) -> BrokerOrder:
        """Send once (a submission, or the replace `send` stands for); after a lost answer,
        look the order up by its id before sending again, so the same shares are never covered
        twice. A refusal is never sent again unchanged: it is the plan's to answer."""
        for _ in range(AMBIGUOUS_SUBMIT_ATTEMPTS):
            self._wrote = True
            try:
                placed = await (send() if send else self._broker.submit_order(order))
            except AmbiguousSubmit:
                found = await self._broker.find_order_by_client_id(order.client_order_id)
            except BrokerRejected as exc:
                if not _is_duplicate_client_order_id(exc):
                    raise StopNotPlaced(_one_line(exc), refusal_of(exc)) from exc
                found = await self._broker.find_order_by_client_id(order.client_order_id)
            else:
                return placed
            if found is not None:
                if not meaning_of(found.status).is_open and found.filled_qty == 0:
                    raise StopNotPlaced(f"{found.id} is {found.status}", Refusal.UNFORESEEN)
                return found
        raise BrokerUnreachable(
            f"submit {order.client_order_id}", AMBIGUOUS_SUBMIT_ATTEMPTS, "answers lost"
        )

    async def _confirmed(self, placed: BrokerOrder) -> BrokerOrder:
        """Placed means the broker reports it working — or filled, when the market came through
        its price as it arrived. The trade stream usually says so first; when it is silent (or
        absent), the order is asked for."""
        order = placed
        for _ in range(CONFIRMATION_POLLS):
            meaning = meaning_of(order.status)
            if meaning.protects or order.status is BrokerOrderStatus.FILLED:
                return order
            if not meaning.is_open:
                if order.filled_qty > 0:
                    return order  # it sold what it sold before it ended: that is done
                raise StopNotPlaced(f"{order.id} is {order.status}", Refusal.UNFORESEEN)
            heard = None
            if self._updates is not None:
                heard = await self._updates.wait_until(
                    order.id, _no_longer_pending, CONFIRMATION_POLL_SECONDS
                )
            else:
                await self._clock.sleep(CONFIRMATION_POLL_SECONDS)
            order = heard or await self._broker.get_order(order.id)
        return order


def _listed(orders: list[BrokerOrder]) -> str:
    return ", ".join(f"{order.describe()} ({order.id})" for order in orders)


def _no_longer_pending(order: BrokerOrder) -> bool:
    meaning = meaning_of(order.status)
    return meaning.protects or not meaning.is_open


def _recorded(row: LocalOrder, order: BrokerOrder) -> LocalOrder:
    return replace(
        row,
        broker_id=order.id,
        state=meaning_of(order.status).local_state or OrderState.SUBMITTED,
        stop_price=order.stop_price,
        limit_price=order.limit_price,
        qty_filled=order.filled_qty,
        avg_fill_price=order.filled_avg_price,
        updated_at=order.updated_at,
    )


def _not_recorded(
    local_id: str, broker_id: str | None, client_order_id: str | None, error: StoreError
) -> ChangeNotRecorded:
    if broker_id is None:
        return ChangeNotRecorded(f"{local_id} not recorded: {error}")
    return ChangeNotRecorded(
        f"broker order {broker_id} (client order id {client_order_id}) is on the broker but "
        f"not recorded as {local_id}: {error}; the next run finds it by its client order id"
    )


def refusal_of(error: BrokerRejected) -> Refusal:
    """Which kind of rule a refusal names. Alpaca answers the symbol's and the account's rules
    with one code, so only the message tells them from other 403s."""
    message = error.message.lower()
    if error.code == FORBIDDEN_CODE and any(rule in message for rule in SYMBOL_RULES):
        return Refusal.SYMBOL_RULE
    if error.code == UNPROCESSABLE_CODE:
        return Refusal.TERMS_RULE
    return Refusal.UNFORESEEN


def _is_duplicate_client_order_id(error: BrokerRejected) -> bool:
    return error.code == DUPLICATE_CLIENT_ORDER_ID_CODE and "client_order_id" in error.message


def _required(value: T | None, action: PlanAction) -> T:
    if value is None:
        raise ValueError(f"plan action {action.seq} ({action.kind}) is missing its payload")
    return value


def _one_line(error: BaseException) -> str:
    first_line = (str(error).splitlines() or [""])[0]
    if isinstance(error, BrokerError | StopNotPlaced):
        return first_line
    return f"{type(error).__name__}: {first_line}"
