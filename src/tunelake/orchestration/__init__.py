"""tunelake on Dagster (extra `tunelake[orchestrate]`): the pipeline's datasets as daily
partitioned assets calling the same steps as `tunelake run`, with a schedule, event
triggers, blocking data-quality checks, retries and alerts. `definitions.defs` is the code
location; `tunelake orchestrate` serves it."""
