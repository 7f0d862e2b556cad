"""Kernel-enforced confinement for the sandbox worker (Linux): an unprivileged user without capabilities,
Landlock for files, seccomp for processes, sockets and file metadata, a private network namespace where
permitted.

This module is stdlib-only and is executed inside the worker (never imported by the host). Each function
returns a short description of what it enabled, or raises OSError if the kernel refused; the worker
reports what is active so the host can tell users exactly how the code is confined.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

PR_SET_NO_NEW_PRIVS = 38
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAP_DAC_READ_SEARCH = 2
_CAP_VERSION_3 = 0x20080522
NOBODY = 65534
PR_SET_SECCOMP = 22
PR_SET_PDEATHSIG = 1
SECCOMP_MODE_FILTER = 2
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


def die_with_host(host_pid: int) -> str:
    """SIGKILL this worker when the host dies, even while it is stopped between runs (a stopped process
    never reads the closed pipe). Set after `drop_privileges`, since a change of user clears it, and before
    `seccomp`, which keeps the code from clearing it."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    if os.getppid() != host_pid:  # the host died before the line above: nothing would ever signal us
        os._exit(0)
    return "dies with the host"


def private_network() -> str:
    """A new, empty network namespace (root or user namespaces needed): no interface but a down loopback."""
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    return "network namespace"


def drop_privileges(workdir: str) -> str:
    """As root: become `nobody` with no capability but reading (so Python's own files, even under a 0700
    /root, still import; Landlock decides what may be read), after handing the private folder to nobody.
    Host files are then another user's: chmod, chown, utime, xattrs and device nodes on them fail. As any
    other user: drop whatever capabilities are held."""
    if os.geteuid() != 0:
        _set_capabilities(0)
        return "no capabilities"
    os.chown(workdir, NOBODY, NOBODY)
    for cap in range(64):
        if cap != CAP_DAC_READ_SEARCH and _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            break  # past the last capability this kernel knows
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(_libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(KEEPCAPS)")
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    _set_capabilities(1 << CAP_DAC_READ_SEARCH)
    _check(_libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl(KEEPCAPS)")
    return "unprivileged user"


def _set_capabilities(mask: int) -> None:
    header = struct.pack("Ii", _CAP_VERSION_3, 0)
    data = struct.pack("6I", mask, mask, 0, 0, 0, 0)  # effective, permitted, inheritable; two 32-bit words
    _check(_libc.capset(header, data), "capset")


# --- Landlock ---------------------------------------------------------------------------------------
_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446  # same numbers on x86_64 and aarch64
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1, 2, 4, 8
_REFER, _TRUNCATE = 1 << 13, 1 << 14


def landlock(read_only: list[str], read_write: list[str], read_only_files: list[str]) -> str:
    """Allow reading only beneath `read_only` (+ single files) and writing only beneath `read_write`."""
    abi = _check(_libc.syscall(_LL_CREATE, None, 0, 1), "landlock ABI")  # flag 1 = query the ABI version
    handled = (1 << 13) - 1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    attr = struct.pack("Q", handled)
    ruleset = _check(_libc.syscall(_LL_CREATE, attr, len(attr), 0), "landlock_create_ruleset")
    try:
        for paths, access in (
            (read_only, _EXECUTE | _READ_FILE | _READ_DIR),
            (read_write, handled),
            (read_only_files, _READ_FILE),
        ):
            for path in paths:
                _add_path_rule(ruleset, path, access)
        no_new_privs()
        _check(_libc.syscall(_LL_RESTRICT, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return f"landlock v{abi}"


def _add_path_rule(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist needs no rule
    try:
        rule = struct.pack("=Qi", access, fd)  # struct landlock_path_beneath_attr is packed
        _check(_libc.syscall(_LL_ADD_RULE, ruleset, 1, rule, 0), f"landlock_add_rule({path})")
    finally:
        os.close(fd)


# --- seccomp ----------------------------------------------------------------------------------------
_ARCH = {
    "x86_64": (
        0xC000003E,
        dict(
            fork=57,
            vfork=58,
            clone=56,
            clone3=435,
            execve=59,
            execveat=322,
            socket=41,
            socketpair=53,
            ptrace=101,
            process_vm_readv=310,
            process_vm_writev=311,
            unshare=272,
            setns=308,
            mount=165,
            umount2=166,
            pivot_root=155,
            chroot=161,
            bpf=321,
            perf_event_open=298,
            userfaultfd=323,
            keyctl=250,
            add_key=248,
            request_key=249,
            io_uring_setup=425,
            io_uring_enter=426,
            io_uring_register=427,
            tkill=200,
            kill=62,
            tgkill=234,
            prlimit64=302,
            rt_sigqueueinfo=129,
            rt_tgsigqueueinfo=297,
            pidfd_open=434,
            pidfd_send_signal=424,
            pidfd_getfd=438,
            chmod=90,
            fchmod=91,
            fchmodat=268,
            fchmodat2=452,
            chown=92,
            fchown=93,
            lchown=94,
            fchownat=260,
            utime=132,
            utimes=235,
            futimesat=261,
            utimensat=280,
            setxattr=188,
            lsetxattr=189,
            fsetxattr=190,
            removexattr=197,
            lremovexattr=198,
            fremovexattr=199,
            mknod=133,
            mknodat=259,
            name_to_handle_at=303,
            open_by_handle_at=304,
            prctl=157,
        ),
    ),
    "aarch64": (
        0xC00000B7,
        dict(
            clone=220,
            clone3=435,
            execve=221,
            execveat=281,
            socket=198,
            socketpair=199,
            ptrace=117,
            process_vm_readv=270,
            process_vm_writev=271,
            unshare=97,
            setns=268,
            mount=40,
            umount2=39,
            pivot_root=41,
            chroot=51,
            bpf=280,
            perf_event_open=241,
            userfaultfd=282,
            keyctl=219,
            add_key=217,
            request_key=218,
            io_uring_setup=425,
            io_uring_enter=426,
            io_uring_register=427,
            tkill=130,
            kill=129,
            tgkill=131,
            prlimit64=261,
            rt_sigqueueinfo=138,
            rt_tgsigqueueinfo=240,
            pidfd_open=434,
            pidfd_send_signal=424,
            pidfd_getfd=438,
            fchmod=52,
            fchmodat=53,
            fchmodat2=452,
            fchown=55,
            fchownat=54,
            utimensat=88,
            setxattr=5,
            lsetxattr=6,
            fsetxattr=7,
            removexattr=14,
            lremovexattr=15,
            fremovexattr=16,
            mknodat=33,
            name_to_handle_at=264,
            open_by_handle_at=265,
            prctl=167,
        ),
    ),
}
_DENIED = (
    "fork",
    "vfork",
    "execve",
    "execveat",
    "socket",
    "socketpair",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "tkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    # file metadata: Landlock governs reads and writes of contents, not modes, owners, times or xattrs;
    # refused everywhere, the private folder too (a mode or time there is of no use to an agent's code)
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "mknod",
    "mknodat",
    # file handles bypass path-based checks (the "shocker" escape needs CAP_DAC_READ_SEARCH, kept for reads)
    "name_to_handle_at",
    "open_by_handle_at",
)
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_EPERM, _ENOSYS = 0x00050000 | 1, 0x00050000 | 38
_NR, _ARCH_OFFSET, _ARG0 = 0, 4, 16


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def seccomp() -> str:
    """Deny new processes (threads stay allowed), exec, sockets, signals to other processes, changes of
    file metadata, clearing the parent-death signal, and kernel interfaces a Python program has no use for.
    Denied calls fail with EPERM, so the code sees a PermissionError instead of being killed."""
    machine = platform.machine()
    if machine not in _ARCH:
        raise OSError(0, f"seccomp filter not written for {machine}")
    arch, nr = _ARCH[machine]
    me = os.getpid()
    prog = [
        _op(_LD_W_ABS, _ARCH_OFFSET),
        _op(_JEQ, arch, jt=1),
        _op(_RET, _KILL),  # another syscall ABI (x32, i386) could bypass the table: refuse outright
        _op(_LD_W_ABS, _NR),
    ]
    if machine == "x86_64":
        prog += [_op(_JGE, 0x40000000, jf=1), _op(_RET, _EPERM)]

    def block(syscall: str, body: list) -> None:
        if syscall in nr:
            prog.extend([_op(_JEQ, nr[syscall], jf=len(body)), *body])

    for name in _DENIED:
        block(name, [_op(_RET, _EPERM)])
    block("clone3", [_op(_RET, _ENOSYS)])  # glibc then falls back to clone, whose flags we can inspect
    block("clone", [_op(_LD_W_ABS, _ARG0), _op(_JSET, CLONE_THREAD, jf=1), _op(_RET, _ALLOW), _op(_RET, _EPERM)])
    own_pid_only = [_op(_LD_W_ABS, _ARG0), _op(_JEQ, me, jf=1), _op(_RET, _ALLOW), _op(_RET, _EPERM)]
    block("kill", own_pid_only)
    block("tgkill", own_pid_only)
    # the worker's death with its host (`die_with_host`) must stay set: PR_SET_PDEATHSIG is refused
    block("prctl", [_op(_LD_W_ABS, _ARG0), _op(_JEQ, PR_SET_PDEATHSIG, jf=1), _op(_RET, _EPERM), _op(_RET, _ALLOW)])
    block(
        "prlimit64",
        [_op(_LD_W_ABS, _ARG0), _op(_JEQ, 0, jt=1), _op(_JEQ, me, jf=1), _op(_RET, _ALLOW), _op(_RET, _EPERM)],
    )
    prog.append(_op(_RET, _ALLOW))

    filters = (ctypes.c_ubyte * (8 * len(prog)))(*b"".join(struct.pack("HBBI", *ins) for ins in prog))
    fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(filters))
    no_new_privs()
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0), "seccomp")
    return "seccomp"
