"""Names in SQL text. Values (paths, ids) are passed as parameters; a catalog, schema, table or column name cannot
be, so it is quoted here, the one place that knows DuckDB's rule: wrap in double quotes, double any inside."""

from __future__ import annotations


def identifier(*parts: str) -> str:
    """``catalog.schema.table`` (any number of parts), each part quoted: ``identifier('a"b')`` -> ``"a""b"``."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def literal(text: str) -> str:
    """A string constant, for the statements that take no parameters (``COMMENT ON``)."""
    return "'" + text.replace("'", "''") + "'"
