"""Carry out a plan phase by phase — the only place a run talks to the broker and the database —
publishing every step as an event and collecting errors instead of raising them, so every
position gets its turn."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from engine.broker.errors import (
    AmbiguousSubmit,
    BrokerError,
    BrokerRejected,
    BrokerUnreachable,
    OrderNotFound,
)
from engine.broker.protocol import Broker
from engine.broker.status_map import meaning_of
from engine.broker.trade_updates import TradeUpdates
from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    LocalOrder,
    NewOrder,
    OrderClass,
    OrderRole,
    OrderState,
    OrderType,
    TimeInForce,
)
from engine.reconcile.actions import STOP_PLACING_KINDS, ActionKind, Phase, Plan, PlanAction
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
from engine.reconcile.outcomes import ActionResult, ExecutionReport, JournalEntry, Outcome

T = TypeVar("T")

STOP_SUBMIT_ATTEMPTS = 3  # rejections before the uncovered shares are closed at market
AMBIGUOUS_SUBMIT_ATTEMPTS = 3  # lost answers tolerated for one submission
CONFIRMATION_POLLS = 20
CONFIRMATION_POLL_SECONDS = 0.25
REJECTION_PAUSE_SECONDS = 0.5
# Alpaca's code for a request the account may not make now, and the rules behind it that refuse
# a market order on the same shares as surely as a stop.
FORBIDDEN_CODE = 40310000
SYMBOL_RULES = ("wash trade", "insufficient qty")
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

    async def record_decision(self, seq: int, answer: DecisionAnswer) -> None: ...

    async def record_outcome(self, entry: JournalEntry) -> None: ...


class StopNotPlaced(Exception):
    """The broker refused the stop, or never confirmed it working. `by_rule` when a rule of the
    broker's forbade it (a wash trade, shares already held): a market exit on the same shares
    would be refused for the same reason."""

    def __init__(self, message: str, *, by_rule: bool = False) -> None:
        super().__init__(message)
        self.by_rule = by_rule


class Executor:
    def __init__(
        self,
        *,
        broker: Broker,
        ledger: Ledger,
        decide: DecisionCallback,
        emit: Listener,
        now: Callable[[], datetime],
        updates: TradeUpdates | None = None,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._broker = broker
        self._updates = updates
        self._ledger = ledger
        self._decide = decide
        self._emit = emit
        self._now = now
        self._pause = pause
        self._report = ExecutionReport()

    async def run(self, plan: Plan) -> ExecutionReport:
        # Decisions come one at a time, in the plan's order.
        orders = plan.in_phase(Phase.ORDERS)
        await self._run_phase(Phase.ORDERS, *((action,) for action in orders))
        positions = plan.in_phase(Phase.POSITIONS)
        # Surplus comes off first, so the stops that follow find the shares free; then every
        # stop together, since each second a position sits unprotected is risk.
        await self._run_phase(
            Phase.POSITIONS,
            tuple(a for a in positions if a.kind is ActionKind.REDUCE_SURPLUS_STOP),
            tuple(a for a in positions if a.kind in STOP_PLACING_KINDS),
            tuple(a for a in positions if a.kind is ActionKind.SYNTHETIC_ENTRY),
        )
        self._emit(PhaseStarted(Phase.CIRCUIT_BREAKER, total=0))
        self._emit(PhaseFinished(Phase.CIRCUIT_BREAKER, done=0, total=0, errors=0))
        return self._report

    async def _run_phase(self, phase: Phase, *stages: tuple[PlanAction, ...]) -> None:
        """Each stage's actions run together; a stage starts when the one before has ended."""
        total = sum(len(stage) for stage in stages)
        self._emit(PhaseStarted(phase, total=total))
        errors_before = len(self._report.errors)
        done = 0

        async def step(action: PlanAction) -> None:
            nonlocal done
            await self._run_action(action)
            done += 1
            self._emit(PhaseProgress(phase, done=done, total=total, current=action.reason))

        for stage in stages:
            await asyncio.gather(*(step(action) for action in stage))
        errors = len(self._report.errors) - errors_before
        self._emit(PhaseFinished(phase, done=done, total=total, errors=errors))

    async def _run_action(self, action: PlanAction) -> None:
        self._emit(ActionStarted(action))
        try:
            result = await self._perform(action)
        except Exception as exc:  # collected, not raised: the next position still gets its turn
            result = ActionResult(action, Outcome.FAILED, _one_line(exc))
        await self._finish(result)

    async def _finish(self, result: ActionResult) -> None:
        self._report.results.append(result)
        action = result.action
        if result.outcome is Outcome.FAILED:
            self._report.errors.append(f"{action.kind} {action.symbol}: {result.detail}")
            self._emit(ActionFailed(result.action, result.detail))
        elif result.outcome is Outcome.SKIPPED:
            self._emit(ActionSkipped(result.action, result.detail))
        else:
            self._emit(ActionSucceeded(result.action, result.detail))
        if result.journaled:
            return
        try:
            await self._ledger.record_outcome(result.journal_entry)
        except Exception as exc:
            self._report.errors.append(f"journal: outcome of action {result.action.seq}: {exc}")

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
        await self._ledger.insert_order(
            row, event_type=result.action.kind, detail=detail, journal=journaled.journal_entry
        )
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
            await self._pause(CONFIRMATION_POLL_SECONDS)
        raise StopNotPlaced(f"cancel of {order.id} not confirmed: still {status}")

    async def _follow_locally(
        self, result: ActionResult, local: LocalOrder | None, order: BrokerOrder
    ) -> ActionResult:
        """The local row of an order recon changed takes the broker's word for it, with the
        action's outcome in the same transaction."""
        if local is None or local.state.is_terminal:
            return result
        journaled = replace(result, journaled=True)
        await self._ledger.apply_broker_state(
            local,
            meaning_of(order.status).local_state or local.state,
            order,
            event_type=result.action.kind,
            detail=result.action.reason,
            journal=journaled.journal_entry,
        )
        return journaled

    async def _current(self, broker_id: str) -> BrokerOrder | None:
        try:
            return await self._broker.get_order(broker_id)
        except OrderNotFound:
            return None

    # Protection -----------------------------------------------------------------------------

    async def _protect(self, action: PlanAction, order: NewOrder, row: LocalOrder) -> ActionResult:
        still_open = await self._still_open(action.blocked_by)
        if still_open:
            return ActionResult(
                action,
                Outcome.FAILED,
                f"stop not placed: {_listed(still_open)} is still open and Alpaca refuses a "
                f"stop while it is; {order.symbol} stays UNPROTECTED",
            )
        last_refusal: StopNotPlaced | None = None
        for _ in range(STOP_SUBMIT_ATTEMPTS):
            try:
                placed = await self._submit(order)
                self._emit(StopSubmitted(order.symbol, placed.id, order.qty))
                working = await self._confirmed(placed)
            except StopNotPlaced as exc:
                last_refusal = exc
                await self._pause(REJECTION_PAUSE_SECONDS)
                continue
            return await self._record_stop(
                action,
                working,
                _recorded(row, working),
                f"stop {working.id} {order.side} {order.qty} at {order.stop_price} confirmed",
            )
        refusal = str(last_refusal)
        if last_refusal is not None and last_refusal.by_rule:
            return ActionResult(
                action,
                Outcome.FAILED,
                f"stop refused {STOP_SUBMIT_ATTEMPTS} times ({refusal}); no market exit: "
                "Alpaca's rule would refuse it too",
            )
        return await self._exit_at_market(action, order, row, refusal)

    async def _exit_at_market(
        self, action: PlanAction, stop: NewOrder, row: LocalOrder, refusal: str
    ) -> ActionResult:
        """The last resort after the broker refused the stop three times for a reason the plan
        could not foresee: unprotected shares are closed rather than left open to unlimited
        loss."""
        exit_order = replace(
            stop,
            client_order_id=stop.client_order_id.replace("recon-stop-", "recon-exit-", 1),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            stop_price=None,
        )
        placed = await self._submit(exit_order)
        self._report.market_exits += 1
        exit_row = replace(
            row,
            local_id=exit_order.client_order_id,
            client_order_id=exit_order.client_order_id,
            order_type=OrderType.MARKET,
            order_role=OrderRole.EXIT_MARKET,
        )
        closed = ActionResult(
            action,
            Outcome.FAILED,
            f"stop refused {STOP_SUBMIT_ATTEMPTS} times ({refusal}); closed {stop.qty} at market "
            f"as {placed.id}",
            broker_order=placed,
        )
        return await self._insert(closed, _recorded(exit_row, placed), f"stop refused: {refusal}")

    async def _still_open(self, orders: tuple[BrokerOrder, ...]) -> list[BrokerOrder]:
        still_open = []
        for order in orders:
            current = await self._current(order.id)
            if current is not None and meaning_of(current.status).is_open:
                still_open.append(current)
        return still_open

    async def _oco_exit(self, action: PlanAction) -> ActionResult:
        """Cancel the take-profit that holds the shares, then place it again as an OCO exit with
        the emergency stop. A take-profit cancelled by someone since the snapshot leaves its
        shares free for a plain stop; one that filled leaves nothing to protect."""
        take_profit = _required(action.broker_order, action)
        oco = _required(action.new_order, action)
        row = _required(action.new_row, action)
        fallback = _required(action.fallback_stop, action)
        fallback_row = replace(
            row, local_id=fallback.client_order_id, client_order_id=fallback.client_order_id
        )
        current = await self._current(take_profit.id)
        if current is None or current.status is BrokerOrderStatus.CANCELED:
            # Cancelled by someone since the snapshot: its shares are free for a plain stop.
            return await self._protect(action, fallback, fallback_row)
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
            instead = await self._protect(action, fallback, fallback_row)
            return replace(
                instead,
                outcome=Outcome.FAILED,
                detail=f"OCO refused ({exc}); take-profit {take_profit.id} lost; "
                f"instead: {instead.detail}",
            )
        if not placed.legs:
            # Found again by its client_order_id after a lost answer: that lookup lists no legs.
            placed = await self._broker.get_order(placed.id)
        stop_leg = next((leg for leg in placed.legs if leg.order_type in STOP_TYPES), None)
        if stop_leg is None:
            raise StopNotPlaced(f"OCO {placed.id} came back without its stop leg")
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
        `working` (the stop, or the OCO it is a leg of) working."""
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
        twice."""
        for _ in range(AMBIGUOUS_SUBMIT_ATTEMPTS):
            try:
                placed = await (send() if send else self._broker.submit_order(order))
            except AmbiguousSubmit:
                found = await self._broker.find_order_by_client_id(order.client_order_id)
            except BrokerRejected as exc:
                if not _is_duplicate_client_order_id(exc):
                    raise StopNotPlaced(
                        _one_line(exc), by_rule=_is_a_rule_of_the_symbol(exc)
                    ) from exc
                found = await self._broker.find_order_by_client_id(order.client_order_id)
            else:
                return placed
            if found is not None:
                if not meaning_of(found.status).is_open:
                    raise StopNotPlaced(f"{found.id} is {found.status}")
                return found
        raise BrokerUnreachable(
            f"submit {order.client_order_id}", AMBIGUOUS_SUBMIT_ATTEMPTS, "answers lost"
        )

    async def _confirmed(self, placed: BrokerOrder) -> BrokerOrder:
        """Placed means the broker reports it working. The trade stream usually says so first;
        when it is silent (or absent), the order is asked for."""
        order = placed
        for _ in range(CONFIRMATION_POLLS):
            meaning = meaning_of(order.status)
            if meaning.protects:
                return order
            if not meaning.is_open:
                raise StopNotPlaced(f"{order.id} is {order.status}")
            heard = None
            if self._updates is not None:
                heard = await self._updates.wait_until(
                    order.id, _no_longer_pending, CONFIRMATION_POLL_SECONDS
                )
            else:
                await self._pause(CONFIRMATION_POLL_SECONDS)
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
        qty_filled=order.filled_qty,
        avg_fill_price=order.filled_avg_price,
        updated_at=order.updated_at,
    )


def _is_a_rule_of_the_symbol(error: BrokerRejected) -> bool:
    """Alpaca answers both rules with one code; only the message tells them from other 403s."""
    message = error.message.lower()
    return error.code == FORBIDDEN_CODE and any(rule in message for rule in SYMBOL_RULES)


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
