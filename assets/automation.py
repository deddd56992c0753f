"""Jobs, schedules and sensors (being built)."""

jobs: list = []
schedules: list = []
sensors: list = []
