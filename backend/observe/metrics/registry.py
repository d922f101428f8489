"""The registries a scrape reads: the web's (multi-process files + the shared-state collectors) and the worker's
(its own multi-process files only: its batches)."""

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import multiprocess as prometheus_multiprocess

from observe.metrics import collectors, multiprocess_dir


def _process_registry() -> CollectorRegistry:
    if multiprocess_dir():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY  # one process: its own metrics (and prometheus_client's process and platform ones)


def web_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_Merged(_process_registry()))
    for collector in (collectors.EngineCounters(), collectors.OutboxBacklog(), collectors.RedisState()):
        registry.register(collector)
    return registry


def worker_registry() -> CollectorRegistry:
    return _process_registry()


class _Merged:
    """Another registry's metrics as one collector of this one."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        return self.source.collect()
