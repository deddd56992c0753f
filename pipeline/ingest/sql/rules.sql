-- Field rules shared by the registry formats, as DuckDB macros: each parses one raw text value strictly, and its
-- *_problem twin says in plain words why a present value does not parse (NULL when it does). A format's view
-- joins the problems of a record with concat_ws('; ', ...) in the order its rules are listed; a record with any
-- problem is rejected. The wording is the one pipeline/ingest/parsing.py uses, so both paths reject alike.

-- Python's str.strip(): the Unicode separators (\pZ: space, NBSP, U+2000-U+200A, U+3000 ...), \t-\r, U+001C-U+001F
-- and NEL. A regex (trim() with a set of multi-byte characters is ten times slower), run only on values that start
-- or end with such a character (most do not, and long notes are costly to search).
CREATE OR REPLACE MACRO strip_space(v) AS CASE
    WHEN regexp_matches(left(v, 1) || right(v, 1), '[\pZ\t-\r\x{1c}-\x{1f}\x{85}]')
    THEN regexp_replace(v, '^[\pZ\t-\r\x{1c}-\x{1f}\x{85}]+|[\pZ\t-\r\x{1c}-\x{1f}\x{85}]+$', '', 'g')
    ELSE v END;

-- Stripped text; NULL for the placeholders the exports write for 'no value' (FORMATS.md, parsing hazard 8). A regex,
-- not IN: DuckDB plans a long IN list as a join.
CREATE OR REPLACE MACRO clean_text(v) AS CASE
    WHEN regexp_full_match(strip_space(v), '(?i)|n/a|na|none|null|nan|-|–|—|- -|not applicable|view|#n/a') THEN NULL
    ELSE strip_space(v) END;

-- A raw value as a reason quotes it: quantity '12.5' is not a whole number.
CREATE OR REPLACE MACRO quoted(v) AS '''' || CAST(v AS VARCHAR) || '''';

-- Numbers (of a clean_text value): thousands separators and stray spaces are formatting ("1,454,054"); anything
-- else but [+-]digits[.digits] is not a number. Counts are whole, non-negative and exact in a float64 (<= 2**53).
CREATE OR REPLACE MACRO number_value(clean) AS CASE
    WHEN regexp_full_match(replace(replace(clean, ',', ''), ' ', ''), '[+-]?[0-9]+(\.[0-9]+)?')
    THEN CAST(replace(replace(clean, ',', ''), ' ', '') AS DOUBLE) END;
CREATE OR REPLACE MACRO whole_number(number) AS CASE
    WHEN number = floor(number) AND abs(number) <= 9007199254740992 THEN CAST(round(number) AS BIGINT) END;
CREATE OR REPLACE MACRO whole_number_problem(raw, clean, number, what, required) AS nullif(concat_ws('; ',
    CASE WHEN clean IS NOT NULL AND number IS NULL THEN what || ' ' || quoted(raw) || ' is not a number' END,
    CASE WHEN number <> floor(number) THEN what || ' ' || quoted(raw) || ' is not a whole number' END,
    CASE WHEN number < 0 THEN what || ' ' || quoted(raw) || ' is negative' END,
    CASE WHEN abs(number) > 9007199254740992
         THEN what || ' ' || quoted(raw) || ' is too large to be a count of credits' END,
    CASE WHEN required AND clean IS NULL THEN what || ' is missing' END), '');

-- Dates (of a clean_text value): YYYY-MM-DD or an ISO 8601 timestamp without a zone, within datetime64[ns]
-- (years 1678-2261).
CREATE OR REPLACE MACRO iso_date(clean) AS CASE
    WHEN regexp_full_match(clean, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9:.]+)?') THEN try_cast(clean AS TIMESTAMP_NS) END;
CREATE OR REPLACE MACRO date_problem(raw, clean, parsed, what, required) AS nullif(concat_ws('; ',
    CASE WHEN clean IS NOT NULL AND parsed IS NULL
         THEN what || ' ' || quoted(raw) || ' is not a date (expected YYYY-MM-DD)' END,
    CASE WHEN required AND clean IS NULL THEN what || ' is missing' END), '');
-- A date as a reason quotes it: the day, or the timestamp when it has a time.
CREATE OR REPLACE MACRO date_text(d) AS
    CASE WHEN d = date_trunc('day', d) THEN strftime(d, '%Y-%m-%d') ELSE CAST(d AS VARCHAR) END;

-- Vintage years outside 1990-2100 are typos (3021) or Excel serial numbers.
CREATE OR REPLACE MACRO vintage_problem(year) AS
    CASE WHEN year NOT BETWEEN 1990 AND 2100 THEN 'vintage ' || quoted(year) || ' outside 1990-2100' END;

-- Project ids in the OffsetsDB convention, <PREFIX><number> without leading zeros (1340 -> VCS1340): the number of
-- a raw id written [prefix]<number>, else NULL. Ids that Excel turned into dates (1/28/1914, FORMATS.md hazard
-- 11), other text and missing ids reject the record.
CREATE OR REPLACE MACRO project_number(raw, prefix) AS CASE
    WHEN regexp_extract(upper(strip_space(raw)), '^([A-Z]*)0*[1-9][0-9]*(?:\.0+)?$', 1) IN ('', prefix)
    THEN nullif(regexp_extract(upper(strip_space(raw)), '^[A-Z]*0*([1-9][0-9]*)(?:\.0+)?$', 1), '') END;
CREATE OR REPLACE MACRO project_id_problem(raw, clean, number, prefix) AS CASE
    WHEN clean IS NULL THEN 'project id is missing'
    WHEN number IS NOT NULL THEN NULL
    WHEN regexp_matches(strip_space(raw),
        '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?( [AP]M)?)?$|^[0-9]{4}-[0-9]{2}-[0-9]{2}')
    THEN 'project id ' || quoted(raw) || ' looks like an Excel-damaged date'
    ELSE 'project id ' || quoted(raw) || ' is not a ' || prefix || ' project number' END;
