"""``--jobs N``: the calls of a batch on N worker processes of this machine, with a progress bar.

Workers are started with ``forkserver``, not ``fork``: the parent may hold threads (rich's
progress refresh, a recogniser's pools), and a forked copy of a process with threads can
deadlock on a lock another thread held. Each worker loads the recogniser once (its
initializer) and keeps it for every call it gets; with Whisper and more than one worker, each
uses one thread, so N workers share N cores instead of each taking them all. Results arrive in
any order and are put back in input order, so the tables do not depend on N.

Ctrl-C or SIGTERM stops the workers at once: every call finished so far has its part file, no
table is written, and ``--resume`` completes the run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from monitor.batch.analyse import RunOptions, preload
from monitor.batch.inputs import CallTask
from monitor.batch.output import (
    BatchDir,
    Outcome,
    finish_run,
    process_call,
    status_counts,
    utc_now,
)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """A signal asked the batch to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass(frozen=True)
class _WorkerSetup:
    run: RunOptions
    out: BatchDir
    resume: bool
    first: CallTask


_setup: _WorkerSetup | None = None


def _init_worker(setup: _WorkerSetup) -> None:
    """Keep the run's settings and load the recogniser of the run's profile once. Ctrl-C and
    a closed terminal reach the whole process group: they are the parent's to handle, which
    stops the workers with SIGTERM (left as it is, so that it does)."""
    global _setup
    _setup = setup
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    preload(setup.first, setup.run)


def _work(item: tuple[int, CallTask]) -> tuple[int, Outcome]:
    index, task = item
    assert _setup is not None, "the worker's initializer sets it"
    return index, process_call(task, _setup.run, _setup.out, _setup.resume)


def run_local(tasks: list[CallTask], run: RunOptions, out: BatchDir, jobs: int, resume: bool,
              on_done: Callable[[Outcome], None]) -> list[Outcome]:
    """Every call's outcome, in input order; ``on_done`` hears each as it finishes.
    Raises ``Interrupted`` when a signal stopped the run (the workers are stopped)."""
    run = run.for_workers(jobs)
    setup = _WorkerSetup(run, out, resume, tasks[0])
    outcomes: list[Outcome | None] = [None] * len(tasks)
    ctx = multiprocessing.get_context("forkserver")
    # The server imports the pipeline once; each worker it forks starts with it loaded.
    ctx.set_forkserver_preload([__name__])
    pool = ctx.Pool(jobs, _init_worker, (setup,))
    try:
        with raise_on_signals():
            for index, outcome in pool.imap_unordered(_work, enumerate(tasks)):
                outcomes[index] = outcome
                on_done(outcome)
        pool.close()  # all done: the workers exit on their own, releasing what they hold
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return [o for o in outcomes if o is not None]


@contextlib.contextmanager
def raise_on_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP raise ``Interrupted`` in the parent while the pool runs."""

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    before = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in before.items():
            signal.signal(sig, old)


class ProgressView:
    """Calls done of the total, hours of audio done, speed (times real time) and time left, on
    stderr; nothing when stderr is not a terminal (a log file wants only the end line)."""

    def __init__(self, total: int) -> None:
        self._started = time.monotonic()
        self._audio_s = 0.0
        self._analysed_s = 0.0
        self._progress: Any = None
        if sys.stderr.isatty():
            self._progress = _rich_progress()
            self._progress.start()
            self._task = self._progress.add_task("batch", total=total, hours=0.0, speed=0.0)

    def done(self, outcome: Outcome) -> None:
        """One more call done; the speed counts only the calls analysed in this run (not
        those ``--resume`` found done)."""
        self._audio_s += outcome.duration_s
        self._analysed_s += 0.0 if outcome.skipped else outcome.duration_s
        if self._progress is not None:
            wall = max(time.monotonic() - self._started, 1e-9)
            self._progress.update(self._task, advance=1, hours=self._audio_s / 3600,
                                  speed=self._analysed_s / wall)

    def say(self, text: str) -> None:
        """A line on stderr above the bar (or plain, without one)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _rich_progress() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(MofNCompleteColumn(), TextColumn("calls"), BarColumn(),
                    TextColumn("{task.fields[hours]:.2f} h audio"),
                    TextColumn("{task.fields[speed]:.0f}x real time"), TextColumn("ETA"),
                    TimeRemainingColumn(), console=Console(stderr=True))


@dataclass(frozen=True)
class BatchEnd:
    """How a batch ended: the exit status and the line that says so."""

    code: int
    line: str


Runner = Callable[[list[CallTask], RunOptions, BatchDir, int, bool, Callable[[Outcome], None]],
                  list[Outcome]]
"""An engine: runs every call (``process_call``, which writes its part), tells ``on_done`` of
each as it finishes, returns the outcomes in input order, raises ``Interrupted`` when stopped
(``run_local``'s signature)."""


def run_batch(tasks: list[CallTask], run: RunOptions, out: BatchDir, jobs: int, resume: bool,
              meta: dict[str, Any], engine: str = "local", runner: Runner = run_local,
              ) -> BatchEnd:
    """Run every call with ``runner`` (``engine`` names it in run.json), then merge the
    tables and write run.json; a signal stops it with the parts written so far and no tables
    (exit 128 + the signal)."""
    view = ProgressView(len(tasks))
    bugs: set[str] = set()

    def done(outcome: Outcome) -> None:
        view.done(outcome)
        if outcome.bug is not None and outcome.error not in bugs:
            bugs.add(outcome.error or "")
            view.say(f"callmonitor: bug (the call is a failed row, the batch goes on):\n"
                     f"{outcome.bug}")

    started = utc_now()
    try:
        outcomes = runner(tasks, run, out, jobs, resume, done)
    except Interrupted as stop:
        return BatchEnd(128 + stop.signum, "callmonitor: batch interrupted; the calls done so "
                        f"far are kept in {out.parts}: run it again with --resume to complete it")
    finally:
        view.close()
    finish_run(out, outcomes, {**meta, "engine": engine, "jobs": jobs, "started_at": started})
    return BatchEnd(0, count_line(outcomes))


def count_line(outcomes: list[Outcome]) -> str:
    """The end line: how many calls, complete, failed (and done before, on --resume)."""
    counts = status_counts(outcomes)
    others = "".join(f", {n} {s}" for s, n in sorted(counts.items())
                     if s not in ("complete", "failed"))
    skipped = sum(o.skipped for o in outcomes)
    again = f" ({skipped} done before, not run again)" if skipped else ""
    return (f"{len(outcomes)} calls: {counts.get('complete', 0)} complete, "
            f"{counts.get('failed', 0)} failed{others}{again}")
