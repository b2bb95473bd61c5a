"""Persistent query cache: every finished value-function row is stored once and never paid for again.

Embedded SQLite (no server). WAL journal + ``synchronous=NORMAL``: a committed batch survives the process
being SIGKILLed (only an OS crash / power loss can lose the last commits), readers never block writers,
and several processes may write the same file (writers serialise on ``BEGIN IMMEDIATE`` with a busy
timeout). Two tables, both keyed by ``(fingerprint, key)``:

* ``queries``: one row per dense mask; ``key`` = ``np.packbits(mask)`` bytes (their BLAKE2b-256 digest
  when ``n > 256``), ``value`` = REAL
  (NaN is stored as NULL and read back as NaN, so the non-finite policy applies to cached rows too);
* ``blocks``: one row per structured :class:`~spexjax.value_functions.AffineQueries` block;
  ``key`` = a digest of the block's definition, ``value`` = the block's ``float64[2**b]`` bytes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["QueryCache"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS queries (fingerprint TEXT NOT NULL, key BLOB NOT NULL, value REAL,"
    " PRIMARY KEY (fingerprint, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS blocks (fingerprint TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (fingerprint, key)) WITHOUT ROWID",
)
# Stay well below SQLITE_MAX_VARIABLE_NUMBER on old builds (999); the fingerprint takes one slot.
_IN_CHUNK = 900


class QueryCache:
    """A SQLite file mapping ``(fingerprint, key)`` to stored values.

    Args:
      path: the database file (created with its folder if missing); ``":memory:"`` for a private cache.
      timeout: seconds a writer waits for another process's write lock before giving up.

    The connection is opened lazily and re-opened after ``fork`` (a SQLite connection must not cross a
    process boundary), so one ``QueryCache`` object may be handed to worker processes.
    """

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0):
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"cache must be a path (str or os.PathLike) or a QueryCache; got {type(path).__name__}")
        self.path = os.fspath(path)
        if not self.path:
            raise ValueError("cache path must not be empty")
        self.timeout = float(timeout)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._connect()  # fail early on an unusable path

    # -- connection --------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self.path != ":memory:":
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            # Switching to WAL needs a brief exclusive lock and may report BUSY without waiting, so retry.
            self._retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA synchronous = NORMAL")
            for stmt in _SCHEMA:
                self._retry_locked(lambda s=stmt: conn.execute(s))
        except sqlite3.Error as err:
            raise ValueError(f"cache: cannot open SQLite file {self.path!r}: {err}") from err
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _retry_locked(self, op):
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                return op()
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(0.2, delay * 2)

    def close(self) -> None:
        """Close the connection (the next use re-opens it)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self) -> QueryCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict) -> None:
        self.path, self.timeout = state["path"], state["timeout"]
        self._conn, self._pid = None, -1

    def __repr__(self) -> str:
        return f"QueryCache({self.path!r})"

    # -- dense rows --------------------------------------------------------------------------------
    def get_many(self, fingerprint: str, keys: Sequence[bytes], *, table: str = "queries") -> dict[bytes, object]:
        """The stored values of those ``keys`` that are present (missing keys are absent from the dict)."""
        _check_table(table)
        conn = self._connect()
        found: dict[bytes, object] = {}
        uniq = list(dict.fromkeys(keys))
        for i in range(0, len(uniq), _IN_CHUNK):
            chunk = uniq[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._retry_locked(
                lambda c=chunk, m=marks: conn.execute(
                    f"SELECT key, value FROM {table} WHERE fingerprint = ? AND key IN ({m})", (fingerprint, *c)
                ).fetchall()
            )
            found.update(rows)
        return found

    def put_many(self, fingerprint: str, items: Iterable[tuple[bytes, object]], *, table: str = "queries") -> None:
        """Store ``(key, value)`` pairs in one committed transaction (existing keys are left as they are)."""
        _check_table(table)
        rows = [(fingerprint, k, v) for k, v in items]
        if not rows:
            return
        conn = self._connect()

        def write():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(f"INSERT OR IGNORE INTO {table} (fingerprint, key, value) VALUES (?, ?, ?)", rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        self._retry_locked(write)

    def lookup(self, fingerprint: str, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """``(hit: bool[k], values: float64[k])`` for dense-row keys; NULL (stored NaN) reads as NaN."""
        found = self.get_many(fingerprint, keys)
        hit = np.fromiter((k in found for k in keys), dtype=bool, count=len(keys))
        vals = np.fromiter(
            (np.nan if (v := found.get(k)) is None else v for k in keys), dtype=np.float64, count=len(keys)
        )
        return hit, vals

    def store(self, fingerprint: str, keys: Sequence[bytes], values: np.ndarray) -> None:
        """Store dense-row values (NaN becomes NULL; +-inf is stored as such)."""
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        self.put_many(fingerprint, ((k, None if np.isnan(v) else float(v)) for k, v in zip(keys, vals, strict=True)))

    def count(self, fingerprint: str | None = None) -> int:
        """Number of stored dense rows plus blocks (for one fingerprint, or all)."""
        conn = self._connect()
        total = 0
        for table in ("queries", "blocks"):
            if fingerprint is None:
                total += conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            else:
                total += conn.execute(f"SELECT COUNT(*) FROM {table} WHERE fingerprint = ?", (fingerprint,)).fetchone()[
                    0
                ]
        return int(total)

    def __len__(self) -> int:
        return self.count()


def _check_table(table: str) -> None:
    if table not in ("queries", "blocks"):  # the name is interpolated into SQL: allow only ours
        raise ValueError(f"unknown cache table {table!r}")


# Packed masks longer than this are keyed by their BLAKE2b-256 digest instead (n > 256 features), so a
# million-feature run stores 32-byte keys rather than 125 kB ones; which form applies depends only on n.
_MAX_RAW_KEY = 32


def mask_keys(masks: np.ndarray) -> list[bytes]:
    """One key per row: the packed bits of the mask, or their digest for wide masks (``n`` is in the namespace)."""
    packed = np.packbits(np.asarray(masks, dtype=bool), axis=1)
    if packed.shape[1] <= _MAX_RAW_KEY:
        return [row.tobytes() for row in packed]
    return [hashlib.blake2b(row.tobytes(), digest_size=32).digest() for row in packed]
