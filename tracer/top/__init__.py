"""`bpfaudit top`: a live dashboard of audited syscalls and of every place a
record can be lost, fed by any record source (live BPF, a replay file, a test fake)."""
