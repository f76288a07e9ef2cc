"""Search spaces: NAS-Bench-201 (`spaces.nb201`) and DARTS (`spaces.darts`), and their registry
(`spaces.registry`: what the search loop, the sweeps and the course read of a space)."""
