"""Listening events: the simulator, the broker port and its adapters, and the exactly-once
consumer into the Iceberg table `plays` (see events/schema.py for the contract)."""
