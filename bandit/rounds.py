"""Batch rounds: k proposals per round, realized concurrently, evaluated in parallel.

`run_rounds(tuner, executor, budget, batch)` is `Tuner.run` for several workers:
each round asks the policy for ``batch`` arms before any is told (policies count
the pending pulls), realizes the proposals in parallel threads (LLM calls
overlap) and evaluates their kernels through the executor (one worker per GPU;
a kernel waits for a free worker), then tells the outcomes in iteration order.
Evaluation seconds are charged to the tuner's clock per worker lane and the
round is settled when it ends, so under replay the virtual clock advances by the
busiest worker's time, as wall time would on the GPUs. The last round is cut to
the iterations left; a round that cannot fill up (no arm left) runs what it has.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from bandit.attempt import Attempt, Proposal
from bandit.budget import Budget
from bandit.executors.base import BaseExecutor, Evaluated
from bandit.records import TuneResult
from bandit.stopping import TuneError, goal
from bandit.tuner import Tuner
from strategies.errors import RealizerError


def run_rounds(tuner: Tuner, executor: BaseExecutor, budget: Budget, batch: int) -> TuneResult:
    """Iterate in rounds of `batch` until the first exhausted budget limit (or a fatal error)."""
    if batch < 1:
        raise ValueError(f"a round holds at least one proposal, got batch={batch}")
    tuner.start()

    def run(source: str) -> Evaluated:
        return executor.submit(tuner.task, source).result()

    error: str | None = None
    reason: str | None = None
    with ThreadPoolExecutor(max_workers=batch, thread_name_prefix="kb-round") as pool:
        try:
            while not (reason := budget.exhausted(tuner.spend()) or goal(budget, tuner.frontier)):
                proposals = _ask(tuner, _room(budget, tuner, batch))
                if isinstance(proposals, str):
                    reason = proposals
                    break
                futures = [pool.submit(tuner.realize, p, run) for p in proposals]
                outcomes = [_outcome(f) for f in futures]
                tuner.clock.settle()
                for proposal, outcome in zip(proposals, outcomes, strict=True):
                    if isinstance(outcome, RealizerError):
                        error = error or str(outcome)
                        continue
                    tuner.tell(proposal, outcome)
                    if outcome.fatal and error is None:
                        error = outcome.fatal
                if error is not None:
                    reason = f"realizer error: {error}"
                    break
        except KeyboardInterrupt:
            reason = "interrupted"
    return tuner.finish(reason or "stopped", error)


def _room(budget: Budget, tuner: Tuner, batch: int) -> int:
    if budget.iterations is None:
        return batch
    return max(1, min(batch, int(budget.iterations) - tuner.spend().iterations))


def _ask(tuner: Tuner, k: int) -> list[Proposal] | str:
    """Up to `k` proposals; the reason the search is over when there is none."""
    proposals: list[Proposal] = []
    for _ in range(k):
        try:
            proposals.append(tuner.ask())
        except TuneError as e:
            if not proposals:
                return str(e)
            break
    return proposals


def _outcome(f: Future[Attempt]) -> Attempt | RealizerError:
    try:
        return f.result()
    except RealizerError as e:
        return e
