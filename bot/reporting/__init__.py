"""Reports for the core HR team: figures, snapshots, shapes, benchmarks and their renderings."""
