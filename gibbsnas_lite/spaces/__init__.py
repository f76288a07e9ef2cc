"""Search spaces: NAS-Bench-201 (`spaces.nb201`) and DARTS (`spaces.darts`)."""
