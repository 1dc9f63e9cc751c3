"""Audit redaction of hostile text: 100 KB vs 1 MB, the linear scan next to the regex it replaced.

``python -m bench.bench_redaction [--repeats 3] [--old-max-kb 64] [--json]``

The callback audits a refused sign-in before any state check, so ``error=<X>`` from anyone
reaches :func:`okta_security.audit.redact`. For each hostile shape the script times ``redact``
(the linear scan; the value is then cut to ``MAX_TEXT_CHARS``) at 100 KB and 1 MB and prints the
ratio: linear work gives about 10. In the same run it times the pattern redaction used before,
``eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*`` with ``re.sub``, up to
``--old-max-kb`` (its time grows with the square of the input: 1 MB would take many minutes),
and extrapolates it to 100 KB and 1 MB from its largest measured size. Every new result is
checked against the old pattern's on inputs small enough for both.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from typing import TYPE_CHECKING

from okta_security.audit import REDACTED, _redact_text, redact

if TYPE_CHECKING:
    from collections.abc import Callable

OLD_JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
KB = 1000
SIZES_KB = (100, 1000)
# Inputs an attacker controls; the first is the one that held a worker for seconds.
SHAPES: dict[str, str] = {
    "eyJ repeated": "eyJ",
    "eyJ + 5 chars + dot, repeated": "eyJaaaaa.",
    "base64url without eyJ": "abcdefghij",
    "JWT-like tokens, space separated": "eyJhbGciOi.eyJzdWIi.c2ln ",
    "control characters and text": "a\n\r\x00b ",
}


def cpu_seconds(call: Callable[[], object], repeats: int) -> float:
    """Return the least CPU time of ``repeats`` calls (the least is the least disturbed by neighbours)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best


def old_redact(text: str) -> str:
    """The redaction of JWT-looking values before the linear scan."""
    return OLD_JWT_PATTERN.sub(REDACTED, text)


def check_agreement() -> None:
    """Fail unless the linear scan redacts exactly what the old pattern did, on every shape."""
    for unit in SHAPES.values():
        for n in (1, 2, 3, 50):
            text = unit * n
            if _redact_text(text) != old_redact(text):
                raise AssertionError(f"the linear scan and the old pattern disagree on {text[:60]!r}")


def measure(unit: str, *, repeats: int, old_max_kb: int) -> dict[str, object]:
    """Time one shape through the new redaction at each size and the old pattern up to ``old_max_kb``."""
    row: dict[str, object] = {}
    for kb in SIZES_KB:
        text = unit * (kb * KB // len(unit))
        row[f"new_{kb}kb_ms"] = round(cpu_seconds(lambda t=text: redact(t), repeats) * 1000, 2)
    row["new_ratio_1mb_to_100kb"] = round(float(row["new_1000kb_ms"]) / max(float(row["new_100kb_ms"]), 1e-3), 1)  # type: ignore[arg-type]
    old: dict[int, float] = {}
    kb = 4
    while kb <= old_max_kb:
        text = unit * (kb * KB // len(unit))
        old[kb] = cpu_seconds(lambda t=text: old_redact(t), 1 if kb >= 32 else repeats)
        kb *= 2
    row["old_ms"] = {f"{k}kb": round(v * 1000, 2) for k, v in old.items()}
    largest = max(old)
    # Exponent of the old cost over its two largest measured sizes: 1 linear, 2 quadratic.
    previous = largest // 2
    growth = (old[largest] / max(old[previous], 1e-6)) if previous in old else 1.0
    exponent = max(1.0, min(2.0, _log2(growth)))
    row["old_growth_exponent"] = round(exponent, 2)
    for target in SIZES_KB:
        row[f"old_{target}kb_ms_extrapolated"] = round(old[largest] * (target / largest) ** exponent * 1000, 1)
    return row


def _log2(x: float) -> float:
    import math

    return math.log2(x) if x > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--old-max-kb", type=int, default=64, help="largest input for the old pattern")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    check_agreement()
    results = {name: measure(unit, repeats=args.repeats, old_max_kb=args.old_max_kb) for name, unit in SHAPES.items()}
    if args.json:
        print(json.dumps({"python": platform.python_version(), "results": results}, indent=2))
        return 0
    print(f"Python {platform.python_version()} on {platform.machine()}; CPU time, best of {args.repeats}")
    header = f"{'input':36} {'new 100 KB':>11} {'new 1 MB':>10} {'ratio':>6}   {'old (re.sub) measured':<44} {'old 100 KB*':>12} {'old 1 MB*':>12}"
    print(header)
    for name, row in results.items():
        measured = ", ".join(f"{k}: {v} ms" for k, v in list(row["old_ms"].items())[-2:])  # type: ignore[union-attr]
        print(
            f"{name:36} {row['new_100kb_ms']:>8} ms {row['new_1000kb_ms']:>7} ms {row['new_ratio_1mb_to_100kb']:>6}   "
            f"{measured:<44} {row['old_100kb_ms_extrapolated']:>9} ms {row['old_1000kb_ms_extrapolated']:>9} ms"
        )
    print("* extrapolated from the two largest measured sizes (exponent in --json); the new figures are measured.")
    worst = max(float(row["new_ratio_1mb_to_100kb"]) for row in results.values())  # type: ignore[arg-type]
    print(f"worst 1 MB / 100 KB ratio of the new redaction: {worst} (linear: ~10)")
    return 0 if worst <= 15 else 1


if __name__ == "__main__":
    sys.exit(main())
