"""Records: the typed vocabulary every other part of sizeup speaks, and how it is kept on disk.

Nothing here imports the rest of the harness: measuring writes records, and analysis,
sizing and the renderers read them, so results from another machine work like local ones.
"""

from harness.records import figures
from harness.records.case import Case
from harness.records.journal import Journal, JournalBusy, final_path, finish, journal_path, machine_folder, unfinished
from harness.records.jsonio import check_name, check_writable, dumps, plain, write_atomic
from harness.records.store import JOURNAL_SUFFIX, NotAResult, load, save
from harness.records.types import (
    MIN_CLEAN,
    PHASES,
    PROFILE,
    SCHEMA,
    SCHEMA_VERSION,
    STATUSES,
    TASKS,
    WHOLE_RUN,
    BackendFacts,
    CaseRecord,
    Contention,
    Repeat,
    RunResult,
    Throughput,
    phase_order,
    quality_score,
    quality_target,
    select_warm,
)

__all__ = ["JOURNAL_SUFFIX", "MIN_CLEAN", "PHASES", "PROFILE", "SCHEMA", "SCHEMA_VERSION", "STATUSES", "TASKS",
           "WHOLE_RUN", "BackendFacts", "NotAResult",
           "Case", "CaseRecord", "Contention", "Journal", "JournalBusy", "Repeat", "RunResult", "Throughput",
           "check_name", "check_writable", "dumps", "figures", "final_path", "finish", "journal_path", "load",
           "machine_folder", "phase_order", "plain",
           "quality_score", "quality_target", "save", "select_warm", "unfinished", "write_atomic"]
