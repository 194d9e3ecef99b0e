"""The sandbox a process of users' code runs in (Debian's bubblewrap), and as whom.

``command(spec, argv)`` wraps an argv so that it runs:

- in the studio's network namespace (``nsenter``), or the host's for Git alone;
- in mount, PID, IPC and UTS namespaces of its own (``bwrap``): the file system holds the
  host's programs read-only (``/usr``, the Python and Java installations, a few files of
  ``/etc``), a private ``/tmp``, generated ``/etc/passwd``, ``/etc/group`` and
  ``/etc/hosts`` that name no one else, and only the paths the spec lists; the control
  plane's home, its database and key, other studios' storage and other workspaces do
  not exist there, and ``/proc`` shows the sandbox's own processes only;
- as the spec's OS identity with no capability and no way to gain one (``setpriv``).

Paths keep their host names inside, so a file the control plane names (a job file, a
log) is found at the same path by the process.
"""

from __future__ import annotations

import contextlib
import glob
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sparkstudio
from sparkstudio.processes import netns
from sparkstudio.processes.identities import Identity

# What of /etc programs need: dynamic linking, time zones, certificates, Java's own
# configuration, MIME types, DNS for Git. Not passwd/group/hosts (generated) nor secrets.
ETC_FILES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "fonts",
    "gai.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
    "java-*",
    "ssh/ssh_config",
    "ssh/ssh_config.d",
)
SYSTEM_LINKS = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
TOOLS = ("bwrap", "setpriv", "nsenter")


@dataclass(frozen=True)
class SandboxSpec:
    identity: Identity
    namespace: str | None  # the studio's network namespace; None: the host's (Git only)
    writable: Sequence[Path] = ()
    readable: Sequence[Path] = ()
    hostname: str = "sparkstudio"
    cwd: Path | None = None
    etc_dir: Path | None = None  # where the generated passwd, group and hosts are
    extra_readable: Sequence[Path] = field(default_factory=tuple)
    die_with_parent: bool = False  # a command run to its end, not a process followed


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def software_paths() -> list[Path]:
    """Read-only paths every sandboxed process needs: Python (the virtualenv and the
    interpreter it was made from), sparkstudio's own code, Spark and Java when they live
    outside /usr."""
    from sparkstudio.spark.home import SparkNotFound, find_spark_home
    from sparkstudio.spark.java import find_java

    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sparkstudio.__file__).parent.parent]
    with contextlib.suppress(SparkNotFound):  # no Spark: nothing of it to bind
        paths.append(find_spark_home().path)
    java = find_java()
    if java is not None:
        paths.append(java.resolve().parent.parent)
    # Both spellings: programs are started by the paths the control plane knows them by
    # (a virtualenv reached through a link, say), and bind the real files.
    return _outermost([q for p in paths if p.exists() for q in (p.absolute(), p.resolve())])


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside another one of the list (and /usr's, which is bound whole)."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if path.is_relative_to("/usr"):
            continue
        if not any(path.is_relative_to(other) for other in kept):
            kept.append(path)
    return kept


def write_etc(
    folder: Path, identity: Identity, hostname: str, extra_hosts: Mapping[str, str] | None = None
) -> Path:
    """passwd, group and hosts naming only root, the identity and nobody (and the names
    bridged into the namespace, ``extra_hosts``: name → address inside)."""
    folder.mkdir(parents=True, exist_ok=True)
    nologin = "/usr/sbin/nologin"
    users = [
        f"root:x:0:0:root:/root:{nologin}",
        f"{identity.name}:x:{identity.uid}:{identity.gid}::/tmp:{nologin}",
        f"nobody:x:65534:65534:nobody:/nonexistent:{nologin}",
    ]
    groups = ["root:x:0:", f"{identity.name}:x:{identity.gid}:", "nogroup:x:65534:"]
    hosts = [f"127.0.0.1\tlocalhost {hostname}", "::1\tlocalhost ip6-localhost ip6-loopback"]
    hosts += [f"{address}\t{name}" for name, address in (extra_hosts or {}).items()]
    for name, lines in (("passwd", users), ("group", groups), ("hosts", hosts)):
        path = folder / name
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o644)
    folder.chmod(0o755)
    return folder


class _Binds:
    """bwrap arguments; the folders a bind needs are made first, readable by all (bwrap
    would make them 0700, closed to the sandbox's identity)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self._folders: set[Path] = {Path("/")}

    def folders_for(self, target: Path) -> None:
        for folder in reversed(target.parents):
            if folder not in self._folders:
                self._folders.add(folder)
                self.args += ["--perms", "0755", "--dir", str(folder)]

    def bind(self, option: str, source: Path | str, target: Path | str | None = None) -> None:
        target = Path(target if target is not None else source)
        self.folders_for(target)
        self.args += [option, str(source), str(target)]


def command(spec: SandboxSpec, argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run in the sandbox ``spec`` describes."""
    bwrap = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    bwrap += ["--hostname", spec.hostname]
    if spec.die_with_parent:
        bwrap.append("--die-with-parent")
    bwrap += ["--ro-bind", "/usr", "/usr"]
    for link, target in SYSTEM_LINKS.items():
        if Path(link).is_symlink() or not Path(link).exists():
            bwrap += ["--symlink", target, link]
        else:
            bwrap += ["--ro-bind", link, link]
    bwrap += ["--proc", "/proc", "--dev", "/dev", "--ro-bind-try", "/sys", "/sys"]
    bwrap += ["--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108 (a private tmpfs)
    binds = _Binds()
    for pattern in ETC_FILES:
        for found in sorted(glob.glob(f"/etc/{pattern}")):
            binds.bind("--ro-bind", found)
    if spec.etc_dir is not None:
        for name in ("passwd", "group", "hosts"):
            binds.bind("--ro-bind", spec.etc_dir / name, f"/etc/{name}")
    for path in software_paths():
        binds.bind("--ro-bind", path)
    for path in [*spec.readable, *spec.extra_readable]:
        binds.bind("--ro-bind", path)
    for path in spec.writable:
        binds.bind("--bind", path)
    bwrap += binds.args
    if spec.cwd is not None:
        bwrap += ["--chdir", str(spec.cwd)]
    identity = spec.identity
    drop = [
        "setpriv",
        f"--reuid={identity.uid}",
        f"--regid={identity.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]
    enter = netns.enter_command(spec.namespace) if spec.namespace is not None else []
    return [*enter, *bwrap, "--", *drop, "--", *argv]
