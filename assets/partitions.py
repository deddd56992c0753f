"""One static partition per registry, so one registry's bad day never blocks the others."""

import dagster as dg

from pipeline.registries import REGISTRY_KEYS

registry_partitions = dg.StaticPartitionsDefinition(list(REGISTRY_KEYS))
