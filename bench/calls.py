"""Function calls per request by package, from a profile ``bench/probe.py`` dumped
(``PROFILE=refresh PROFILE_OUT=f``): ``python bench/calls.py f [requests]``.

A deterministic measure of how much Python a request runs, for comparing two commits on
a machine whose CPU timings are noisy."""

from __future__ import annotations

import pstats
import sys
from collections import Counter


def package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if "/idp/" in filename:
        return "idp." + filename.split("/idp/")[1].split("/")[0].removesuffix(".py")
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "stdlib:" + filename.rsplit("/", 1)[-1].removesuffix(".py")


def main(path: str, requests: int) -> None:
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    calls: Counter[str] = Counter()
    for (filename, _line, _name), (_primitive, total, *_rest) in stats.items():
        calls[package(filename)] += total
    print(f"{sum(calls.values()) / requests:8.0f} calls per request")
    for name, n in calls.most_common(25):
        print(f"{n / requests:8.0f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
