"""Real servers started on loopback: the embedded NATS broker and Spark cluster, and what
`tunelake services up` starts (SeaweedFS, dynalite; `services.py`). Each module imports its
own client libraries, so the core path (the embedded NATS) needs no extra."""
