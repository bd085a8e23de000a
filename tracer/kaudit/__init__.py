"""Observe and drive kernel audit (netlink status, state save/restore, auditd runs) for comparisons."""
