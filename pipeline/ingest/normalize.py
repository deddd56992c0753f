"""Normalisations shared by the registry readers: countries, statuses, protocols, activities, project types.

Each rule runs once per distinct raw value (:func:`~pipeline.ingest.parsing.per_distinct_value`), so it costs the
same for a thousand rows as for a million. The reference tables come from the reference directory
(``CREDIT_QUALITY_REFERENCE_DIR``, :class:`~pipeline.settings.Paths`), as the scoring stage's do.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry

from pipeline.ingest.parsing import each_present, per_distinct_value
from pipeline.settings import Paths

PROTOCOL_MAPPING_FILE = "protocol-mapping.json"
BERKELEY_TYPES_FILE = "berkeley-project-types.json"
TYPE_CATEGORY_FILE = "type-category-mapping.json"


def _reference_dir() -> Path:
    """The reference directory the environment sets; each table is read once per directory."""
    return _resolved_reference_dir(os.environ.get("CREDIT_QUALITY_REFERENCE_DIR"))


@cache
def _resolved_reference_dir(_variable: str | None) -> Path:
    # Resolving the settings costs milliseconds (pydantic reads the whole environment): once per value of the variable.
    return Paths.from_env().reference_dir


@cache
def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _fold(text: str) -> str:
    """Casefold, strip accents and punctuation, collapse whitespace: 'Côte d'Ivoire' == 'COTE D'IVOIRE'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


# --------------------------------------------------------------------------------------------------------------
# Countries
# --------------------------------------------------------------------------------------------------------------

_COUNTRY_ALIASES = {
    "cape verde": "CV",
    "turkey": "TR",
    "kosovo": "XK",
    "kosovo republic of": "XK",
    "republic of kosovo": "XK",
    "democratic republic of the congo": "CD",
    "drc": "CD",
    "congo the democratic republic of the": "CD",
    "republic of the congo": "CG",
    "ivory coast": "CI",
    "laos": "LA",
    "vietnam": "VN",
    "russia": "RU",
    "south korea": "KR",
    "korea republic of": "KR",
    "north korea": "KP",
    "iran": "IR",
    "syria": "SY",
    "tanzania": "TZ",
    "bolivia": "BO",
    "venezuela": "VE",
    "moldova": "MD",
    "swaziland": "SZ",
    "burma": "MM",
    "macedonia": "MK",
    "usa": "US",
    "united states of america": "US",
    "uk": "GB",
}


@cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name", "alpha_2", "alpha_3"):
            value = getattr(country, attr, None)
            if value:
                index.setdefault(_fold(value), country.alpha_2)
    index.update(_COUNTRY_ALIASES)
    return index


def _country_code(name: str) -> str | None:
    index = _country_index()
    folded = _fold(name)
    code = index.get(folded)
    if code is None and folded.endswith(" of"):  # "North Macedonia Republic of" -> "north macedonia"
        code = index.get(re.sub(r"( the)? (united )?(republic|state|kingdom|federation) of$", "", folded))
    if code is None and " of" in folded:  # "Tanzania United Republic of" -> "tanzania"
        code = index.get(folded.split(" ")[0])
    return code


@per_distinct_value
def country_codes(names: pd.Series) -> pd.Series:
    """ISO 3166-1 alpha-2 codes for registry country names (any case, accents or 'X, Republic of' order);
    missing where the value is not a country (e.g. ``International``)."""
    return each_present(names, lambda name: _country_code(str(name)))


def country_names(codes: pd.Series, fallback: pd.Series) -> pd.Series:
    """Canonical English country names for ISO codes, else the cleaned raw name."""
    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    names["XK"] = "Kosovo"
    mapped = codes.map(names)
    return mapped.where(mapped.notna(), fallback).astype(object).where(lambda s: s.notna(), None)


# --------------------------------------------------------------------------------------------------------------
# Statuses
# --------------------------------------------------------------------------------------------------------------

_STATUS_RULES: tuple[tuple[str, str], ...] = (
    # (regex on the folded raw status, normalized status); first match wins. Verra's, Gold Standard's and the
    # APX registries' status vocabularies as seen in their exports.
    (r"renewal.*denied", "inactive"),
    (r"denied|reject|terminated", "rejected"),
    (r"on hold|suspend", "on_hold"),
    (r"withdraw", "withdrawn"),
    (r"inactive|deactivat|cancell?ed", "inactive"),
    (r"transition|transferred (?:arb|ecology)", "transitioned"),  # ACR: moved to ARB / Ecology compliance
    (r"complet|crediting period expired", "completed"),
    (r"certified design|registration (and verification approval )?requested|validation", "under_validation"),
    (
        r"registered|certified project|renewal|verification approval requested|late to verify|units transferred|"
        r"issuing|\bactive\b",
        "registered",
    ),
    (r"under development|listed|pipeline|draft|submitted", "listed"),
)


@per_distinct_value
def statuses(raw: pd.Series) -> pd.Series:
    """Map registry statuses (``Registered``, ``Under validation``, ``GOLD_STANDARD_CERTIFIED_PROJECT``,
    ``ARB Completed`` ...) to :data:`pipeline.ingest.schemas.PROJECT_STATUSES`; unmapped text is ``unknown``."""

    def status(value: object) -> str:
        folded = _fold(str(value))
        return next((status for pattern, status in _STATUS_RULES if re.search(pattern, folded)), "unknown")

    return each_present(raw, status).fillna("unknown")


# --------------------------------------------------------------------------------------------------------------
# Protocols and activities
# --------------------------------------------------------------------------------------------------------------


@cache
def _protocol_index(reference_dir: Path) -> tuple[dict[str, str], dict[str, dict]]:
    mapping = _read_json(reference_dir / PROTOCOL_MAPPING_FILE)
    exact: dict[str, str] = {}
    for key, entry in mapping.items():
        if key == "unknown":
            continue
        for known in entry.get("known-strings", []):
            exact.setdefault(_fold(known), key)
        exact.setdefault(_fold(key), key)
    return exact, mapping


_CODE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bar[ -]?acm ?0*(\d{1,4})\b", "ar-acm{:04d}"),
    (r"\bar[ -]?ams ?0*(\d{1,4})\b", "ar-ams{:04d}"),
    (r"\bar[ -]?am ?0*(\d{1,4})\b", "ar-am{:04d}"),
    (r"\bvmr ?0*(\d{1,4})\b", "vmr{:04d}"),
    (r"\bvm ?0*(\d{1,4})\b", "vm{:04d}"),
    (r"\bacm ?0*(\d{1,4})\b", "acm{:04d}"),
    (r"\bam ?0*(\d{1,4})\b", "am{:04d}"),
)


def _token_protocol(token: str, exact: dict[str, str]) -> str | None:
    folded = _fold(token)
    if not folded:
        return None
    if folded in exact:
        return exact[folded]
    ams = re.search(r"\bams ?(i{1,3}|iv) ?([a-z]{1,2})\b", folded)
    if ams:
        return f"ams-{ams.group(1)}-{ams.group(2)}"
    for pattern, template in _CODE_PATTERNS:
        match = re.search(pattern, folded)
        if match:
            # A real methodology code that CarbonPlan's mapping does not list yet keeps its own key.
            return template.format(int(match.group(1)))
    return None


@per_distinct_value
def protocols(raw: pd.Series, separators: str = r";") -> tuple[pd.Series, pd.Series]:
    """CarbonPlan protocol keys for raw methodology strings.

    The whole string is looked up first among the 251 keys' known spellings (which map combinations like
    ``VM0007; VM0015`` to their lead methodology); otherwise each ``separators``-split token is matched on
    its methodology code (``VM0007``, ``AR-ACM0003``, ``AMS-III.D.``). Returns (primary key, all keys
    ``;``-joined); ``unknown`` where nothing matched, missing where the raw value is missing."""
    exact, _ = _protocol_index(_reference_dir())

    def keys(value: object) -> tuple[str, str]:
        text = str(value)
        tokens = [t for t in re.split(separators, text) if t.strip()]
        found = list(dict.fromkeys(k for k in (_token_protocol(t, exact) for t in tokens) if k))
        whole = exact.get(_fold(text))
        primary = whole or (found[0] if found else "unknown")
        if whole and whole not in found:
            found.insert(0, whole)
        return primary, ";".join(found) if found else "unknown"

    pairs = each_present(raw, keys)
    return pairs.str[0], pairs.str[1]


def protocol_categories(protocol: pd.Series) -> pd.Series:
    _, keys = _protocol_index(_reference_dir())
    lookup = {k: v.get("category") for k, v in keys.items()}
    return protocol.map(lookup).astype(object).where(lambda s: s.notna(), None)


# Nature-based activity of a protocol, from each methodology's title and scope (see data/reference/README.md).
PROTOCOL_ACTIVITY: dict[str, str] = {
    **dict.fromkeys(["vm0006", "vm0007", "vm0009", "vm0015", "vm0037", "vm0048", "ccb-redd"], "REDD"),
    **dict.fromkeys(["vm0003", "vm0005", "vm0010", "vm0011", "vm0012", "vm0045", "vm0034"], "IFM"),
    **dict.fromkeys(["acr-ifm-nonfed", "acr-ifm-small", "acr-ifm-timber", "acr-canada-forest"], "IFM"),
    **dict.fromkeys(["arb-forest", "ecy-forest", "car-forest", "car-forest-mx"], "IFM"),
    **dict.fromkeys(
        [
            "vm0047",
            "ar-acm0001",
            "ar-acm0002",
            "ar-acm0003",
            "ar-am0002",
            "ar-am0003",
            "ar-am0005",
            "ar-am0007",
            "ar-am0014",
            "ar-ams0001",
            "ar-ams0002",
            "ar-ams0003",
            "ar-ams0004",
            "ar-ams0005",
            "ar-ams0006",
            "ar-ams0007",
            "acr-affor-refor",
            "gs-reforest",
            "iso-refor",
            "ccb-refor",
        ],
        "ARR",
    ),
    **dict.fromkeys(["vm0033", "vm0024", "vm0036", "acr-cali-wetlands", "acr-ms-wetlands", "acr-pocosin"], "WRC"),
    **dict.fromkeys(
        [
            "vm0017",
            "vm0021",
            "vm0022",
            "vm0026",
            "vm0032",
            "vm0042",
            "vm0051",
            "car-soil",
            "gs-soil",
            "acr-grazing",
            "acr-compost-graze",
            "vm0041",
        ],
        "ALM",
    ),
    **dict.fromkeys(["car-grassland", "car-grassland-ca", "acr-grasslands", "vm0004"], "AGC"),
    "art-trees": "JREDD",
}
"""``car-forest``/``arb-forest`` cover reforestation and avoided conversion too; readers refine the activity
from the project type where the registry states it."""

VERRA_AFOLU = {"ARR": "ARR", "IFM": "IFM", "REDD": "REDD", "WRC": "WRC", "ALM": "ALM", "ACOGS": "ACoGS"}


_ACTIVITY_RULES = (
    (r"reforest|afforest|revegetat|\ba ?r\b|tree planting", "ARR"),
    (r"improved forest|\bifm\b|forest management|forest carbon", "IFM"),
    (r"grassland", "AGC"),
    (r"avoided conversion", "IFM"),
    (r"redd|deforestation", "REDD"),
    (r"wetland|mangrove|blue carbon|peat|pocosin", "WRC"),
    (r"soil|grazing|agricultur|rangeland|rice", "ALM"),
)


@per_distinct_value
def activity_from_text(text: pd.Series) -> pd.Series:
    """Activity from a registry's project type (``Reforestation``, ``Improved Forest Management``,
    ``Avoided Grassland Conversion`` ...); missing where the text names none."""

    def activity(value: object) -> str | None:
        folded = _fold(str(value))
        return next((activity for pattern, activity in _ACTIVITY_RULES if re.search(pattern, folded)), None)

    return each_present(text, activity)


def activities(protocol: pd.Series, refine: pd.Series | None = None) -> pd.Series:
    """Nature-based activity from the protocol, refined by the registry's own activity text where given."""
    from_protocol = protocol.map(PROTOCOL_ACTIVITY)
    if refine is None:
        result = from_protocol
    else:
        stated = activity_from_text(refine)
        result = stated.where(stated.notna(), from_protocol)
    return result.astype(object).where(lambda s: s.notna(), None)


def first_non_null(*series: pd.Series) -> pd.Series:
    out = series[0].copy()
    for s in series[1:]:
        out = out.where(out.notna(), s)
    return out


def as_object(series: pd.Series) -> pd.Series:
    """Nullable strings as plain Python objects with ``None`` for missing (what DuckDB and pandera expect)."""
    return series.astype(object).where(series.notna(), None)


# --------------------------------------------------------------------------------------------------------------
# Berkeley project types (the type vocabulary OffsetsDB uses), keyed by project id
# --------------------------------------------------------------------------------------------------------------

BERKELEY_ACTIVITY: dict[str, str] = {
    "afforestation/reforestation": "ARR",
    "improved forest management": "IFM",
    "avoided forest conversion": "IFM",  # as activity_from_text: CAR/ACR avoided conversion is a forest protocol
    "redd+": "REDD",
    "jurisdictional redd+": "JREDD",  # VROD's type of the ART TREES programs
    "wetland restoration": "WRC",
    "avoided grassland conversion": "AGC",
    "sustainable grassland management": "ALM",
    "sustainable agriculture": "ALM",
    "rice emission reductions": "ALM",
    "nitrogen management": "ALM",
    "improved irrigation management": "ALM",
}
"""Nature-based activity of the Berkeley types that are AFOLU land management (biochar, compost and feed
additives are not: no land carbon stock is managed)."""


def berkeley_project_types(project_id: pd.Series) -> pd.Series:
    """Berkeley Carbon Trading Project type of each project id (``VCS1234`` -> ``redd+``), as CarbonPlan's
    OffsetsDB assigns it; missing for projects Berkeley has not classified (mostly those listed after 2025)."""
    types = _read_json(_reference_dir() / BERKELEY_TYPES_FILE)
    return project_id.map(types).astype(object).where(lambda s: s.notna(), None)


def type_categories(project_type: pd.Series) -> pd.Series:
    """OffsetsDB category (``forest``, ``land-use``, ``agriculture``, ``renewable-energy`` ...) of a Berkeley type."""
    categories = {k: v["category"] for k, v in _read_json(_reference_dir() / TYPE_CATEGORY_FILE).items()}
    return project_type.map(categories).astype(object).where(lambda s: s.notna(), None)


def status_and_country(status_raw: pd.Series, country_raw: pd.Series) -> dict[str, pd.Series]:
    """The ``projects`` columns ``status_raw``, ``status``, ``country_code`` and ``country`` from the export's
    cleaned status and country text."""
    country_code = country_codes(country_raw)
    return {
        "status_raw": status_raw,
        "status": statuses(status_raw),
        "country_code": country_code,
        "country": country_names(country_code, country_raw),
    }


def classification(
    berkeley_type: pd.Series, registry_type: pd.Series, registry_source: str, protocol: pd.Series, activity: pd.Series
) -> dict[str, object]:
    """The ``projects`` columns ``project_type`` (Berkeley's type, else the one the registry's own
    classification implies), ``project_type_source`` (``berkeley`` or ``registry_source``), ``category`` (of
    the type, else of the protocol), ``is_nature_based`` and ``activity``."""
    project_type = as_object(first_non_null(berkeley_type, registry_type))
    return {
        "project_type": project_type,
        "project_type_source": np.select(
            [berkeley_type.notna(), registry_type.notna()], ["berkeley", registry_source], None
        ),
        "category": first_non_null(type_categories(project_type), protocol_categories(protocol)),
        "is_nature_based": activity.notna(),
        "activity": activity,
    }
