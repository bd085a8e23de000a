"""bpfaudit: kernel-audit-compatible syscall auditing with eBPF."""

__version__ = "0.1.0"
