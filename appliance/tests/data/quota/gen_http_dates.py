#!/usr/bin/env python3
"""Regenerates http_dates.txt: IMF-fixdate vectors from Python's email.utils.formatdate,
an implementation independent of ours. Deterministic (fixed seed); run from this folder:
    python3 gen_http_dates.py > http_dates.txt
"""
import calendar
import random
from email.utils import formatdate

rng = random.Random(20261123)
stamps = [0, 951782400, 951868800, 1795392000, 1798761599, 1798761600, 4102444800, 253402300799]
# Midnights around month ends and leap days, then random instants up to year 9999.
for y in (2024, 2025, 2026, 2028, 2100):
    for m in (1, 2, 12):
        last = calendar.monthrange(y, m)[1]
        stamps.append(calendar.timegm((y, m, last, 0, 0, 0)))
        stamps.append(calendar.timegm((y, m, last, 23, 59, 59)))
stamps += [rng.randrange(0, 253402300800) for _ in range(40)]
print("# unix-seconds IMF-fixdate (Python email.utils.formatdate(ts, usegmt=True))")
for ts in stamps:
    print(ts, formatdate(ts, usegmt=True))
