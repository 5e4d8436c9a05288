"""Speed of the ePhoto number rules: generation, validation, and the typo candidate search.

Run: .venv/bin/python bench/codes.py
"""

from __future__ import annotations

import statistics
import time

from ephoto import code as codes


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    n = 50_000
    gen_rate = rate(codes.generate, n)
    sample = [codes.generate().value for _ in range(n)]
    it = iter(sample)
    val_rate = rate(lambda: codes.is_valid(next(it)), n)

    typos = []
    for code in sample[:2000]:
        i = next((k for k, c in enumerate(code) if c in codes._CONFUSABLE and k >= 4), None)
        if i is not None:
            typos.append(code[:i] + codes._CONFUSABLE[code[i]] + code[i + 1 :])
    lower = [c.lower() for c in sample[:2000]]
    swap_times, lower_times = [], []
    for typo in typos:
        t = time.perf_counter()
        codes.candidates(typo)
        swap_times.append(time.perf_counter() - t)
    for typo in lower:
        t = time.perf_counter()
        codes.candidates(typo)
        lower_times.append(time.perf_counter() - t)

    print(f"generate (secrets):            {gen_rate:>12,.0f} codes/s")
    print(f"validate:                      {val_rate:>12,.0f} codes/s")
    print(
        "candidates, one confusable swap: "
        f"median {statistics.median(swap_times) * 1e6:.0f} us, "
        f"max {max(swap_times) * 1e6:.0f} us ({len(typos)} typos)"
    )
    print(
        "candidates, all lowercase:      "
        f"median {statistics.median(lower_times) * 1e6:.0f} us, "
        f"max {max(lower_times) * 1e6:.0f} us ({len(lower)} typos)"
    )


if __name__ == "__main__":
    main()
