-- Verra VCU export -> credits (the decisions are in pipeline/ingest/verra.py's docstring). Input: the table
-- verra_vcu_raw (pipeline.ingest.sql.read.read_csv with verra.TRANSACTIONS_LAYOUT) and the variables source_file
-- and certifications_listed (the export has the Additional Certifications column). Output: verra_rejections
-- (source_line, reason) and verra_credits.

-- <batch>-<from>-<to>-VCS-VCU-<n>-VER-<ISO2>-<scope>-<project>-<DDMMYYYY>-<DDMMYYYY>-<flag> and the older
-- 4147-176338408-176338907-VCU-016-MER-AU-14-641-16042012-15042013-0: after the lazy middle part come exactly four
-- digit runs, so <project> is the fourth field from the end.
CREATE OR REPLACE MACRO verra_serial_shaped(v) AS coalesce(regexp_matches(v,
    '^\s*(\d+-(\d+)-(\d+)-[A-Z0-9-]+?-(\d+)-\d{8}-\d{8}-\d+)\s*$'), false);

-- Every block, parsed, with what is wrong with it (problem; NULL when nothing is).
CREATE OR REPLACE TABLE verra_blocks AS
WITH cleaned AS NOT MATERIALIZED (
    SELECT *,
        clean_text(id) AS id_clean,
        clean_text(issuance_date) AS issuance_date_clean,
        clean_text(vintage_start) AS vintage_start_clean,
        clean_text(vintage_end) AS vintage_end_clean,
        clean_text(retirement_date) AS retirement_date_clean,
        clean_text(total_vintage_quantity) AS total_clean,
        clean_text(quantity) AS quantity_clean,
        verra_serial_shaped(serial_number) AS shaped
    FROM verra_vcu_raw),
parsed AS NOT MATERIALIZED (
    SELECT *,
        project_number(id, 'VCS') AS project_number,
        iso_date(issuance_date_clean) AS issued_on,
        iso_date(vintage_start_clean) AS vintage_from,
        iso_date(vintage_end_clean) AS vintage_to,
        iso_date(retirement_date_clean) AS retired_on,
        number_value(total_clean) AS total_number,
        number_value(quantity_clean) AS quantity_number,
        number_value(id_clean) AS id_number,
        CASE WHEN shaped THEN trim(serial_number, chr(9) || chr(10) || chr(12) || chr(13) || ' ')
             ELSE clean_text(serial_number) END AS serial
    FROM cleaned),
valued AS NOT MATERIALIZED (
    SELECT *,
        year(vintage_from) AS vintage,
        whole_number(total_number) AS vintage_total,
        whole_number(quantity_number) AS quantity_value,
        CASE WHEN shaped THEN string_split(serial, '-') END AS fields
    FROM parsed)
SELECT
    source_line,
    'VCS' || project_number AS project_id,
    vintage,
    vintage_from,
    vintage_to,
    issued_on,
    retired_on,
    vintage_total,
    quantity_value,
    serial,
    clean_text(additional_certifications) AS certifications,
    CASE WHEN retired_on IS NOT NULL THEN clean_text(retirement_beneficiary) END AS retirement_beneficiary,
    CASE WHEN retired_on IS NOT NULL THEN clean_text(retirement_reason) END AS retirement_reason,
    CASE WHEN retired_on IS NOT NULL THEN clean_text(retirement_note) END AS retirement_note,
    nullif(concat_ws('; ',
        project_id_problem(id, id_clean, project_number, 'VCS'),
        date_problem(issuance_date, issuance_date_clean, issued_on, 'issuance date', true),
        date_problem(vintage_start, vintage_start_clean, vintage_from, 'vintage start', true),
        date_problem(vintage_end, vintage_end_clean, vintage_to, 'vintage end', true),
        CASE WHEN vintage_from > vintage_to
             THEN 'vintage period starts ' || quoted(date_text(vintage_from)) || ' after it ends' END,
        vintage_problem(vintage),
        whole_number_problem(total_vintage_quantity, total_clean, total_number, 'total vintage quantity', true),
        whole_number_problem(quantity, quantity_clean, quantity_number, 'quantity', true),
        CASE WHEN quantity_value > vintage_total
             THEN 'serial block of ' || quoted(quantity_value) || ' credits is larger than its total vintage quantity'
        END,
        date_problem(retirement_date, retirement_date_clean, retired_on, 'retirement/cancellation date', false),
        CASE WHEN retired_on < issued_on
             THEN 'retired on ' || quoted(date_text(retired_on)) || ', before the block was issued' END,
        CASE WHEN NOT shaped AND serial IS NOT NULL
             THEN 'serial number ' || quoted(serial) || ' is not a Verra VCU serial' END,
        CASE WHEN serial IS NULL THEN 'serial number is missing' END,
        CASE WHEN CAST(fields[-4] AS DOUBLE) <> CASE WHEN id_number = floor(id_number) THEN round(id_number) END
             THEN 'serial number ' || quoted(serial) || ' names another project than the row''s ID' END,
        CASE WHEN CAST(fields[3] AS DOUBLE) - CAST(fields[2] AS DOUBLE) + 1 <> quantity_value
             THEN 'serial range ' || quoted(serial) || ' does not hold Quantity Issued credits' END
    ), '') AS problem
FROM valued;

-- The issuances: the blocks of one project, vintage period and Total Vintage Quantity (among blocks without a
-- problem) are one issuance, attributed to the block issued first (the earliest line among those of that day).
CREATE OR REPLACE TABLE verra_issuances AS
SELECT project_id, vintage_from, vintage_to, vintage_total,
    sum(quantity_value) AS in_blocks,
    min({'issued_on': issued_on, 'source_line': source_line}).source_line AS source_line
FROM verra_blocks WHERE problem IS NULL
GROUP BY ALL;

-- Why each rejected block is rejected: its problems, or blocks that add up to more than their Total Vintage
-- Quantity (they contradict the export: all of them).
CREATE OR REPLACE VIEW verra_rejections AS
SELECT source_line, problem AS reason FROM verra_blocks WHERE problem IS NOT NULL
UNION ALL
SELECT source_line,
    'the serial blocks of this project and vintage period hold more credits than its Total Vintage Quantity'
FROM verra_blocks JOIN (SELECT * EXCLUDE (source_line) FROM verra_issuances WHERE in_blocks > vintage_total)
    USING (project_id, vintage_from, vintage_to, vintage_total)
WHERE problem IS NULL;

-- The labels of a block, from the tags of Additional Certifications (ICVCM CCP, CORSIA phases, Article 6
-- authorization, removal or reduction), worked out once per distinct value. An absent label is false when the
-- column exists, null when it does not.
CREATE OR REPLACE MACRO verra_has_tag(tags, prefix) AS
    list_bool_or(list_transform(tags, lambda t: starts_with(t, prefix)));
CREATE OR REPLACE MACRO verra_in_tag(tags, word) AS list_bool_or(list_transform(tags, lambda t: contains(t, word)));
CREATE OR REPLACE MACRO verra_absent_label() AS CASE WHEN getvariable('certifications_listed') THEN false END;
CREATE OR REPLACE VIEW verra_labels AS
SELECT certifications,
    coalesce(verra_has_tag(tags, 'icvcm ccp'), verra_absent_label()) AS ccp_label,
    nullif(concat_ws(';', CASE WHEN verra_in_tag(corsia, 'pilot phase') THEN 'pilot' END,
                          CASE WHEN verra_in_tag(corsia, 'first phase') THEN 'first' END), '') AS corsia_phase,
    coalesce(verra_has_tag(tags, 'article 6 authori'), verra_absent_label()) AS corresponding_adjustment,
    CASE WHEN verra_has_tag(tags, 'carbon dioxide removal') THEN true
         WHEN verra_has_tag(tags, 'ghg emission') THEN false END AS is_removal
FROM (SELECT *, list_filter(tags, lambda t: starts_with(t, 'corsia')) AS corsia
      FROM (SELECT certifications,
                   list_transform(string_split(certifications, ';'), lambda t: lower(strip_space(t))) AS tags
            FROM (SELECT DISTINCT certifications FROM verra_blocks)));

-- The issuances (in the order they were issued), then one retirement per retired block that loads (in file order);
-- columns in the order of the credits contract.
CREATE OR REPLACE VIEW verra_credits AS
WITH rows AS (
    SELECT blocks.* REPLACE (NULL AS serial, NULL AS retirement_beneficiary, NULL AS retirement_reason,
                             NULL AS retirement_note),
        'issuance' AS transaction_type, blocks.vintage_total AS quantity, blocks.issued_on AS transaction_date
    FROM verra_issuances AS issuances JOIN verra_blocks AS blocks USING (source_line)
    WHERE in_blocks <= issuances.vintage_total
    UNION ALL
    SELECT *, 'retirement', quantity_value, retired_on
    FROM verra_blocks
    WHERE retired_on IS NOT NULL AND source_line NOT IN (SELECT source_line FROM verra_rejections))
SELECT
    project_id,
    'verra' AS registry,
    vintage,
    vintage_from AS vintage_start,
    vintage_to AS vintage_end,
    issued_on AS issuance_date,
    serial AS serial_number,
    NULL::BIGINT AS buffer_quantity,
    NULL::VARCHAR AS methodology_version,
    NULL::VARCHAR AS product_type,
    ccp_label,
    corsia_phase,
    corresponding_adjustment,
    is_removal,
    NULL::BOOLEAN AS is_reversible,
    rows.certifications AS additional_certifications,
    getvariable('source_file') AS source_file,
    source_line,
    transaction_type,
    quantity,
    transaction_date,
    retirement_beneficiary,
    retirement_reason,
    retirement_note
FROM rows LEFT JOIN verra_labels AS labels ON rows.certifications IS NOT DISTINCT FROM labels.certifications
ORDER BY transaction_type, CASE WHEN transaction_type = 'issuance' THEN issued_on END, source_line;
