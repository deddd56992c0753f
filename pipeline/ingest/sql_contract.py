"""A pandera ``DataFrameModel`` checked in DuckDB, over a whole table, without loading it into pandas.

The warehouse relations hold every registry's rows (a million credits and more); pulling them back into pandas only
to validate them costs seconds and gigabytes. :func:`contract_failures` reads the model (columns, dtypes,
``nullable``, ``unique`` and each check's name and statistics) and runs the same checks as SQL, in one scan
for the row-level ones, so the pandera model stays the one statement of the contract. The meaning follows
pandera's: checks ignore missing values, a column whose type differs must be castable to the model's dtype
(pandera coerces), ``str_matches`` anchors at the start of the value. A check this module cannot translate is
an error, never skipped.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pandera.pandas as pa

from pipeline.sql import columns, identifier, literal

EXAMPLES = 5
"""Distinct failing values reported per failed check."""

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_TYPE_FAMILIES: dict[str, tuple[str, set[str]]] = {
    # pandera dtype (as str) -> (DuckDB type to cast to, DuckDB types that already are that dtype)
    "string[python]": ("VARCHAR", {"VARCHAR"}),
    "string[pyarrow]": ("VARCHAR", {"VARCHAR"}),
    "str": ("VARCHAR", {"VARCHAR"}),
    "Int64": ("BIGINT", _INTEGER_TYPES),
    "int64": ("BIGINT", _INTEGER_TYPES),
    "float64": ("DOUBLE", {"DOUBLE", "FLOAT", "DECIMAL", *_INTEGER_TYPES}),
    "bool": ("BOOLEAN", {"BOOLEAN"}),
    "boolean": ("BOOLEAN", {"BOOLEAN"}),
    "datetime64[ns]": ("TIMESTAMP_NS", {"TIMESTAMP_NS", "TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE"}),
}


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return literal(str(value))


def _failing(check: pa.Check, value: str) -> str:
    """SQL predicate that is true where ``value`` fails ``check`` (NULL where the value is missing)."""
    stats = check.statistics
    match check.name:
        case "isin":
            return f"{value} NOT IN ({', '.join(map(_literal, stats['allowed_values']))})"
        case "notin":
            return f"{value} IN ({', '.join(map(_literal, stats['forbidden_values']))})"
        case "str_matches" | "str_matches_distinct":
            return f"NOT regexp_matches({value}, {_literal('^(?:' + stats['pattern'] + ')')})"
        case "greater_than_or_equal_to":
            return f"{value} < {_literal(stats['min_value'])}"
        case "greater_than":
            return f"{value} <= {_literal(stats['min_value'])}"
        case "less_than_or_equal_to":
            return f"{value} > {_literal(stats['max_value'])}"
        case "less_than":
            return f"{value} >= {_literal(stats['max_value'])}"
        case "equal_to":
            return f"{value} <> {_literal(stats['value'])}"
        case "not_equal_to":
            return f"{value} = {_literal(stats['value'])}"
        case "in_range":
            low = ">=" if stats.get("include_min", True) else ">"
            high = "<=" if stats.get("include_max", True) else "<"
            return (
                f"NOT ({value} {low} {_literal(stats['min_value'])} AND {value} {high} {_literal(stats['max_value'])})"
            )
    raise NotImplementedError(f"no SQL translation for pandera check {check.name!r}; add one to {__name__}")


def contract_failures(conn: duckdb.DuckDBPyConnection, table: str, model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """Every check of ``model`` that rows of ``table`` fail: one row per failed check with ``column``,
    ``check`` (pandera's check name), ``failing_rows`` and ``examples`` (up to :data:`EXAMPLES` distinct
    failing values, as text). Empty when the table honours the contract."""
    schema = model.to_schema()
    if schema.checks or schema.unique:
        raise NotImplementedError(f"{model.__name__}: dataframe-level checks have no SQL translation")
    types = columns(conn, table)
    failures: list[dict] = []
    predicates: list[tuple[str, str, str, str]] = []  # (column, check, failing predicate, value expression)
    for name, column in schema.columns.items():
        if name not in types:
            failures.append({"column": name, "check": "column_in_dataframe", "failing_rows": None, "examples": ""})
            continue
        quoted = identifier(name)
        target, same = _TYPE_FAMILIES.get(str(column.dtype), (None, set()))
        if target is None:
            raise NotImplementedError(f"{model.__name__}.{name}: no DuckDB type for pandera dtype {column.dtype}")
        value = quoted
        if types[name].split("(")[0] not in same:  # pandera would coerce: the values must cast
            value = f"TRY_CAST({quoted} AS {target})"
            predicates.append(
                (name, f"coerce_dtype('{column.dtype}')", f"{quoted} IS NOT NULL AND {value} IS NULL", quoted)
            )
        if not column.nullable:
            predicates.append((name, "not_nullable", f"{value} IS NULL", quoted))
        for check in column.checks:
            predicates.append((name, check.name, _failing(check, value), quoted))
        if column.unique:
            duplicated = f"{value} IN (SELECT {value} FROM main.{table} GROUP BY ALL HAVING count(*) > 1)"
            predicates.append((name, "field_uniqueness", duplicated, quoted))

    if predicates:
        counts = conn.execute(
            "SELECT "
            + ", ".join(f"count_if(coalesce({p}, FALSE))" for _, _, p, _ in predicates)
            + f" FROM main.{table}"
        ).fetchone()
        for (name, check, predicate, raw), failing in zip(predicates, counts, strict=True):
            if failing:
                examples = conn.execute(
                    f"SELECT DISTINCT CAST({raw} AS VARCHAR) AS v FROM main.{table} WHERE {predicate} "
                    f"ORDER BY v NULLS FIRST LIMIT {EXAMPLES}"
                ).fetchall()
                shown = ", ".join("<null>" if v is None else repr(v) for (v,) in examples)
                failures.append({"column": name, "check": check, "failing_rows": failing, "examples": shown})
    return pd.DataFrame(failures, columns=["column", "check", "failing_rows", "examples"])
