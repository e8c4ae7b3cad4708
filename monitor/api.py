"""``monitor.analyse``: one recorded call in a notebook, as records and pandas DataFrames.

The same per-call work as ``callmonitor batch`` (the replay pipeline, the batch's tables and
their schemas), in this process, so a researcher can try a call, a profile or a setting before
running a corpus and get exactly the rows the corpus run will give.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import CallmonitorError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Analysis:
    """One call analysed: ``records`` (the JSON contract, summary last), ``summary`` and the
    call's rows of the batch tables (``calls`` is one row)."""

    records: list[dict[str, Any]]
    summary: dict[str, Any]
    calls: pd.DataFrame
    alerts: pd.DataFrame
    utterances: pd.DataFrame
    segments: pd.DataFrame


def analyse(path: str | Path, profile: str = "zh-CN", asr: str = "auto",
            company: str | None = None, agent_name: str | None = None,
            swap_channels: bool = False, call_events: str | Path | None = None,
            config: str | Path | None = None) -> Analysis:
    """Analyse the recording at ``path`` (``asr``: auto, vosk, whisper or none; ``config``: a
    site configuration file, as ``--config``). A call that cannot be analysed raises its
    ``CallmonitorError`` (the batch makes it a row instead)."""
    from monitor.batch.analyse import RunOptions, analyse_call
    from monitor.batch.inputs import CallTask
    from monitor.batch.tables import rows, to_table

    task = CallTask(Path(path).expanduser().resolve(), profile, company, agent_name,
                    swap_channels, Path(call_events) if call_events is not None else None)
    result = analyse_call(task, RunOptions(asr, Path(config) if config is not None else None))
    if result.summary is None:
        if result.bug is not None:
            raise RuntimeError(f"{path}: {result.error}\n{result.bug}")
        raise CallmonitorError(f"{path} could not be analysed", result.error or "")
    frames = {name: to_table(name, table_rows).to_pandas()
              for name, table_rows in rows(result).items()}
    return Analysis(result.records, result.summary, **frames)
