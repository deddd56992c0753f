"""A reason's ``source`` is a list of citations (rule, reference row, each URL), not one joined string."""

import duckdb
import numpy as np
import pandas as pd

from pipeline.quality.reasons import ReasonLog, Shown


def test_a_source_sentence_becomes_its_citations_without_empty_ones():
    log = ReasonLog(3)
    protocol = pd.Series(["vm0047", "ar-acm0003", "vm0015"])
    urls = pd.Series(["https://verra.org/a ; carbonplan/research:b.md", None, "https://verra.org/c"])
    log.add(np.array([True, True, False]), "ADD_BASE", "additionality", "additionality 4",
            ("framework 7.4; ICVCM AF 9.1 | methodologies.csv ", protocol, " | ", Shown(urls, "")))  # fmt: skip
    log.add(np.array([False, False, True]), "G7", "gate", "not nature-based", "policy.yaml scoring.gates")
    column = log.column()
    sources = [[list(reason["source"]) for reason in row] for row in column]
    assert sources == [
        [
            [
                "framework 7.4",
                "ICVCM AF 9.1",
                "methodologies.csv vm0047",
                "https://verra.org/a",
                "carbonplan/research:b.md",
            ]
        ],
        [["framework 7.4", "ICVCM AF 9.1", "methodologies.csv ar-acm0003"]],  # no URL in the row: no empty citation
        [["policy.yaml scoring.gates"]],
    ], sources
    with duckdb.connect() as conn:
        conn.register("scores", pd.DataFrame({"reasons": column}))
        kind = conn.execute("SELECT typeof(reasons) FROM scores LIMIT 1").fetchone()[0]
        cited = conn.execute("SELECT count(*) FROM (SELECT unnest(r.source) FROM "
                             "(SELECT unnest(reasons) AS r FROM scores))").fetchone()[0]  # fmt: skip
    assert kind.replace('"', "") == "STRUCT(code VARCHAR, criterion VARCHAR, message VARCHAR, source VARCHAR[])[]"
    assert cited == 9, "analysts can unnest the citations in SQL"
