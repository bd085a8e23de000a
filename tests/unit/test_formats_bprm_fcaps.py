"""BPRM_FCAPS: when kernel audit writes it (nonroot_raised_pE(), tracer/capture/fcaps.py) and the
record as audit_log_exit() prints it."""

from __future__ import annotations

from tracer.capture.fcaps import CAP_FULL_SET, Caps, bprm_fcaps, raised_pe
from tracer.formats.audit_text import bprm_fcaps_record

FULL = CAP_FULL_SET
SHORT = 0x1FFFEFFFFFF  # the full set but CAP_SYS_RESOURCE (a bounding set with one capability dropped)
NET_RAW = 1 << 13


def caps(**kw) -> Caps:
    base = dict(old_pp=0, old_pi=0, old_pe=0, old_pa=0, pp=0, pi=0, pe=0, pa=0, fp=0, fi=0, fmagic=0, frootid=0,
                has_fcap=0, securebits=0, old_uid=0, old_gid=0)
    base.update(kw)
    return Caps(**base)


def test_the_full_set_is_bits_0_to_40():
    assert FULL == 0x1FFFFFFFFFF


def test_root_with_every_capability_writes_none():
    assert bprm_fcaps(caps(old_pp=FULL, old_pe=FULL, pp=FULL, pe=FULL), uid=0, euid=0) is None


def test_root_lacking_a_capability_writes_the_kernels_record():
    got = bprm_fcaps(caps(old_pp=SHORT, old_pe=SHORT, pp=SHORT, pe=SHORT), uid=0, euid=0)
    assert bprm_fcaps_record(got) == (
        "fver=0 fp=0 fi=0 fe=0 old_pp=000001fffeffffff old_pi=0 old_pe=000001fffeffffff old_pa=0 "
        "pp=000001fffeffffff pi=0 pe=000001fffeffffff pa=0 frootid=0")


def test_a_plain_users_exec_writes_none():
    assert bprm_fcaps(caps(old_uid=1000), uid=1000, euid=1000) is None


def test_a_setuid_root_program_run_by_a_user_writes_one_unless_it_gets_every_capability():
    short = caps(pp=SHORT, pe=SHORT, old_uid=1000)
    assert raised_pe(short, uid=1000, euid=0)
    assert bprm_fcaps(short, uid=1000, euid=0).pe == SHORT
    assert not raised_pe(caps(pp=FULL, pe=FULL, old_uid=1000), uid=1000, euid=0)


def test_with_secure_noroot_root_gets_nothing_and_a_raised_set_is_logged():
    assert raised_pe(caps(pp=FULL, pe=FULL, securebits=1, old_uid=0), uid=0, euid=0)


def test_file_capabilities_that_raise_the_permitted_set_write_one():
    # setcap cap_net_raw+ep on a program a user runs: fP raises pP (and pE, the effective bit)
    c = caps(pp=NET_RAW, pe=NET_RAW, fp=NET_RAW, fmagic=0x02000001, has_fcap=1, old_uid=1000)
    got = bprm_fcaps(c, uid=1000, euid=1000)
    assert bprm_fcaps_record(got) == (
        "fver=2 fp=0000000000002000 fi=0 fe=1 old_pp=0 old_pi=0 old_pe=0 old_pa=0 "
        "pp=0000000000002000 pi=0 pe=0000000000002000 pa=0 frootid=0")
    # permitted only (no effective bit): pE does not grow, but pP gained from file capabilities
    assert raised_pe(caps(pp=NET_RAW, fp=NET_RAW, fmagic=0x02000000, has_fcap=1, old_uid=1000), uid=1000, euid=1000)
    # the same sets without file capabilities (has_fcap 0) and no ambient gain: none
    assert not raised_pe(caps(pp=NET_RAW, old_uid=1000), uid=1000, euid=1000)


def test_ambient_capabilities_gained_write_one():
    assert raised_pe(caps(pa=NET_RAW, pp=NET_RAW, pe=NET_RAW, old_pa=0, old_uid=1000), uid=1000, euid=1000)


def test_a_negative_root_id_prints_signed():
    c = caps(pp=NET_RAW, pe=NET_RAW, fp=NET_RAW, fmagic=0x03000001, has_fcap=1, frootid=0xFFFFFFFF, old_uid=1000)
    assert bprm_fcaps_record(bprm_fcaps(c, uid=1000, euid=1000)).endswith(" frootid=-1")
