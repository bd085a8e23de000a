"""The record's way from the kernel to a consumer, in one place: the BTF offsets (btf, headers),
the kernel/user boundary (layout, from bpf/record.h), the rule tables (tables), loading and
self-checking the programs (loader), the transports (perf_ring, ringbuf), decoding (reader,
into events.SyscallEvent), the capture session every command reads through (session) and the
loss ledger (ledger)."""

from tracer.capture.session import (  # noqa: F401  (the API trace, top and compare use)
    DEFAULT_TRANSPORT,
    DEFAULT_WAKEUP,
    TRANSPORTS,
    CaptureOptions,
    CaptureSession,
    open_capture,
)
