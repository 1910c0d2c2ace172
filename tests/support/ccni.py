"""Helpers for the CCNI tests: register rows in CCNI's export format, written as the regulator does.

No tests here. `synthetic_rows` makes a seeded register in which charities in default or filing
late more often show no figures and older year ends, so that a model has something to learn.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.ingest.adapters.ccni import COLUMNS
from risk_model.ingest.adapters.ccni_vocab import ACTIVITIES, BENEFICIARIES, PURPOSES

EDUCATION = "The advancement of education"
RELIEF = ("The relief of those in need by reason of youth, age, ill-health, disability, financial hardship "
          "or other disadvantage")
CCNI_FILE = "ccni/charity-register-2020-06-30.csv"


def row(number: int = 100001, **overrides: str) -> dict[str, str]:
    """One CCNI export row as raw text, with plausible values unless overridden (keys: raw headers)."""
    values = {
        "Reg charity number": str(number), "Sub charity number": "0", "Charity name": f"Test Charity {number}",
        "Date registered": "13/12/2014", "Status": "Up-to-date", "Date for financial year ending": "31 March 2019",
        "Total income": "12000", "Total spending": "11000", "Charitable spending": "0",
        "Income generation and governance": "0", "Retained for future use": "0",
        "Public address": "1 High Street, Belfast, BT1 1AA", "Website": "www.example.org", "Company number": "0",
        "What the charity does": EDUCATION, "Who the charity helps": "General public",
        "How the charity works": "Education/training",
    }
    values.update(overrides)
    return values


def csv_bytes(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS, encoding: str = "latin-1") -> bytes:
    """Rows as a CSV in the export's column order and encoding."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[r.get(c, "") for c in columns] for r in rows])
    return out.getvalue().encode(encoding)


def write(path: Path, rows: list[dict[str, str]], **kwargs) -> Path:
    path.write_bytes(csv_bytes(rows, **kwargs))
    return path


def synthetic_rows(n: int, seed: int, first_number: int = 100001) -> list[dict[str, str]]:
    """A seeded register of n charities in CCNI's format, about one in six in default or late."""
    rng = np.random.default_rng(seed)
    statuses = rng.choice(["Up-to-date", "In default", "Due documents received late", "Recently registered",
                           "Removed"], size=n, p=[0.72, 0.07, 0.09, 0.07, 0.05])
    purposes, beneficiaries, activities = list(PURPOSES), list(BENEFICIARIES), list(ACTIVITIES)
    rows = []
    for i, status in enumerate(statuses):
        flagged = status in ("In default", "Due documents received late")
        no_figures = rng.random() < (0.5 if flagged else 0.03)
        income = 0 if no_figures else int(rng.lognormal(9.5 if flagged else 10.5, 1.5))
        spending = 0 if no_figures else int(income * rng.uniform(0.6, 1.3))
        year_end = pd.Timestamp("2019-03-31") - pd.Timedelta(days=int(rng.integers(0, 450 if flagged else 300)))
        registered = pd.Timestamp("2014-01-01") + pd.Timedelta(days=int(rng.integers(0, 2000)))
        picks = {name: list(rng.choice(items, size=int(rng.integers(1, 4)), replace=False))
                 for name, items in (("does", purposes), ("helps", beneficiaries), ("works", activities))}
        rows.append(row(
            first_number + i, Status=str(status), **{
                "Date for financial year ending": f"{year_end.day} {year_end:%B %Y}",
                "Date registered": f"{registered:%d/%m/%Y}",
                "Total income": str(income), "Total spending": str(spending),
                "Website": "" if rng.random() < (0.6 if flagged else 0.4) else f"www.charity{i}.org",
                "Company number": str(int(rng.integers(10000, 99999))) if rng.random() < 0.1 else "0",
                "What the charity does": ",".join(picks["does"]),
                "Who the charity helps": ",".join(picks["helps"]),
                "How the charity works": ",".join(picks["works"]),
            }))
    return rows
