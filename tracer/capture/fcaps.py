"""Whether kernel audit writes a BPRM_FCAPS record for a successful exec, and what it holds:
security/commoncap.c cap_bprm_creds_from_file() calls audit_log_bprm_fcaps() when
nonroot_raised_pE() holds, evaluated here from the exec's CAPS item and its new identity."""

from __future__ import annotations

from typing import NamedTuple, Optional

from tracer.capture.events import BprmFcaps

CAP_FULL_SET = (1 << 41) - 1  # CAP_LAST_CAP 40 (CAP_CHECKPOINT_RESTORE)
SECURE_NOROOT = 0  # its bit in securebits
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_REVISION_SHIFT = 24
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
ROOT_UID = 0  # make_kuid(new->user_ns, 0) in the initial namespace, which the ids are read in


class Caps(NamedTuple):
    """A CAPS item (struct ba_caps)."""

    old_pp: int
    old_pi: int
    old_pe: int
    old_pa: int
    pp: int
    pi: int
    pe: int
    pa: int
    fp: int
    fi: int
    fmagic: int
    frootid: int
    has_fcap: int
    securebits: int
    old_uid: int
    old_gid: int


def _gained(new: int, old: int) -> bool:
    """!cap_issubset(new, old)"""
    return bool(new & ~old)


def raised_pe(c: Caps, uid: int, euid: int) -> bool:
    """nonroot_raised_pE(new, old, root, has_fcap), `uid`/`euid` the new credentials'.

    The last clause's "no setuid" is new->euid == old->uid, as in 6.1 and up to the commit "exec:
    Correct the permission check for unsafe exec" (2025), which compares with old->euid; the two
    differ only for a caller whose uid and euid differed, and the CAPS item has only old_uid."""
    root_privileged = not c.securebits & (1 << SECURE_NOROOT)
    pe_full = c.pe & CAP_FULL_SET == CAP_FULL_SET
    is_eff, is_real = euid == ROOT_UID, uid == ROOT_UID
    is_suid = not is_real and is_eff
    if _gained(c.pe, c.pa) and not (pe_full and (is_eff or is_real) and root_privileged):
        return True
    if root_privileged and is_suid and not pe_full:
        return True
    return euid == c.old_uid and ((bool(c.has_fcap) and _gained(c.pp, c.old_pp)) or _gained(c.pa, c.old_pa))


def bprm_fcaps(c: Optional[Caps], uid: int, euid: int) -> Optional[BprmFcaps]:
    """The BPRM_FCAPS record of an exec with CAPS item `c`, or None when kernel audit writes none."""
    if c is None or not raised_pe(c, uid, euid):
        return None
    frootid = c.frootid - (1 << 32) if c.frootid & 0x80000000 else c.frootid  # printed with %d
    return BprmFcaps(
        fver=(c.fmagic & VFS_CAP_REVISION_MASK) >> VFS_CAP_REVISION_SHIFT, fp=c.fp, fi=c.fi,
        fe=int(bool(c.fmagic & VFS_CAP_FLAGS_EFFECTIVE)),
        old_pp=c.old_pp, old_pi=c.old_pi, old_pe=c.old_pe, old_pa=c.old_pa,
        pp=c.pp, pi=c.pi, pe=c.pe, pa=c.pa, frootid=frootid,
    )
