"""Git URLs a workspace may clone, and the limits put on the git that clones them.

The control plane runs git, so a URL is where the platform connects, with its power. Only
https:// and ssh reach out; file:// only inside the studio's own storage; just before a
clone the host must resolve to public addresses only (the platform is no scanner of its
own network); and git's failures are reworded so that a refused, a silent and an
answering port read the same.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from sparkstudio.errors import Invalid
from sparkstudio.rules.locations import confine
from sparkstudio.rules.text import control_character, shown

SHAPES = (
    "https://host/path, ssh://[user@]host/path, user@host:path, or file:// in the studio's storage"
)
MAX_LENGTH = 2048
# <transport>::<address> makes git run git-remote-<transport> (ext:: runs any command).
_TRANSPORT_HELPER = re.compile(r"^[A-Za-z0-9+.\-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]/]+\]|[^@/:\[\]]+):(?P<path>.*)$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

UNREACHABLE = "the repository could not be reached"
AUTHENTICATION_FAILED = "authentication failed: check the username and the password or token"
CREDENTIALS_NEEDED = "the repository asks for credentials: give a username and a password or token"
NOT_FOUND = "the repository was not found (or it needs credentials)"


def check_git_url(url: str, field: str, *, allowed_file_roots: Sequence[str]) -> str:
    """``url`` if the platform may clone it, else a 422 naming ``field``. A file URL (or a
    bare path) comes back as the normalised ``file://`` URL of a place under one of
    ``allowed_file_roots``: git then reads it through its transport, never by hard links."""

    def refused(why: str) -> Invalid:
        return Invalid.field(field, f"{why} (got {shown(url)}); a Git URL is {SHAPES}")

    if not url:
        raise refused("is empty")
    if len(url) > MAX_LENGTH:
        raise refused(f"is longer than {MAX_LENGTH} characters")
    if control_character(url) or any(character.isspace() for character in url):
        raise refused("contains spaces or control characters")
    if url.startswith("-"):
        raise refused("starts with '-', which git would read as an option")
    if "\\" in url:
        raise refused("contains a backslash")
    if _TRANSPORT_HELPER.match(url):
        raise refused("names a git transport helper (ext::, fd::, …), which runs programs")
    scheme = _SCHEME.match(url)
    if scheme is not None:
        name = scheme.group(1).lower()
        if name in ("https", "ssh"):
            problem = _network_url_problem(url)
            if problem:
                raise refused(problem)
            return url
        if name == "file":
            return _file_url(url, field, allowed_file_roots)
        if name == "http":
            raise refused("uses plain http://, where credentials and code travel in clear")
        if name == "git":
            raise refused("uses git://, which is neither authenticated nor encrypted")
        raise refused(f"uses {name}://, which is not allowed")
    if url.startswith("/"):
        return _file_url(url, field, allowed_file_roots)
    scp = _SCP_LIKE.match(url)
    if scp is not None:
        problem = _user_problem(scp.group("user")) or _host_problem(scp.group("host"))
        if not problem and not scp.group("path"):
            problem = "names no repository after ':'"
        if problem:
            raise refused(problem)
        return url
    raise refused("is not a Git URL")


def url_host(url: str) -> str:
    """The host a checked Git URL connects to, for ``public_address_problem`` ('' for a
    file URL, which connects nowhere)."""
    if _SCHEME.match(url):
        parts = urlsplit(url)
        if parts.scheme.lower() == "file":
            return ""
        host = parts.netloc.rpartition("@")[2]
        return host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    scp = _SCP_LIKE.match(url)
    return scp.group("host") if scp is not None and not url.startswith("/") else ""


def public_address_problem(host: str) -> str:
    """Why the platform must not connect to ``host`` ('' when every address it resolves to
    is public). Call it just before connecting: DNS may answer differently later."""
    name = host.removeprefix("[").removesuffix("]")
    try:
        literal = ipaddress.ip_address(name)
    except ValueError:
        literal = None
    if literal is not None:
        kind = address_kind(literal)
        return f"{host} is not a public address ({kind})" if kind else ""
    try:
        answers = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        addresses = [ipaddress.ip_address(str(answer[4][0]).split("%")[0]) for answer in answers]
    except (OSError, UnicodeError, ValueError):
        addresses = []
    # One message whether the name is unknown or internal: the answer reveals neither.
    if not addresses or any(address_kind(address) for address in addresses):
        return (
            f"{host} does not resolve to public addresses only; the platform reaches public hosts"
        )
    return ""


def address_kind(address: Address) -> str:
    """What makes ``address`` non-public ('loopback', 'private', …), or '' if it is public.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by
    that too: ``::ffff:127.0.0.1`` is loopback.
    """
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in _embedded_ipv4(address):
            kind = address_kind(embedded)
            if kind:
                return kind
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, applies in checks if applies), "")


def git_environment_hardening(allow_file: bool = False) -> dict[str, str]:
    """Environment for a git the platform runs: only the protocols that were checked, no
    system or global configuration, no prompts, no platform ssh keys or agent.

    Merge it into a minimal environment (PATH, LANG), not into ``os.environ``: git and
    what it runs must not see the control plane's secrets or its GIT_* and proxy settings.
    """
    return {
        "GIT_ALLOW_PROTOCOL": "https:ssh:file" if allow_file else "https:ssh",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "false",  # beats a core.askPass a repository's config names
        "GIT_LFS_SKIP_SMUDGE": "1",  # LFS would fetch from URLs the repository chooses
        # Beats core.sshCommand; no agent, no key of the platform's, no proxy command.
        "GIT_SSH_COMMAND": (
            "ssh -F /dev/null -o BatchMode=yes -o IdentityAgent=none -o IdentitiesOnly=yes "
            "-o IdentityFile=none -o ProxyCommand=none -o ProxyJump=none "
            "-o PermitLocalCommand=no -o ClearAllForwardings=yes -o ControlMaster=no "
            "-o ControlPath=none -o StrictHostKeyChecking=accept-new "
            "-o UserKnownHostsFile=/dev/null"
        ),
    }


def git_config_args(allow_file: bool) -> list[str]:
    """``-c`` options for every git command the platform runs, placed before the command.

    They override what a working tree's own ``.git/config`` (written by the user) says
    about hooks, fsmonitor and credential helpers; a credential helper of the platform's
    must come after them (an empty ``credential.helper`` resets the list).
    """
    settings = [
        f"protocol.file.allow={'user' if allow_file else 'never'}",
        "http.followRedirects=false",
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "credential.helper=",
        "submodule.recurse=false",
        "transfer.fsckObjects=true",
    ]
    return [argument for setting in settings for argument in ("-c", setting)]


_AUTH_FAILED = re.compile(
    r"authentication failed|invalid username or password|permission denied \(|"
    r"permission denied, please try again|bad credentials",
    re.IGNORECASE,
)
_NEEDS_CREDENTIALS = re.compile(r"could not read (username|password)", re.IGNORECASE)
_MISSING_BRANCH = re.compile(r"remote branch (\S+) not found", re.IGNORECASE)
_CONNECTION = re.compile(
    r"could not resolve|name or service not known|temporary failure in name resolution|"
    r"connection refused|timed out|no route to host|network is unreachable|"
    r"failed to connect|couldn't connect|connection reset|connection closed|"
    r"empty reply|unexpected disconnect|hung up|ssl|tls|certificate|gnutls|openssl|handshake|"
    r"returned error|http/\d|http \d{3}|rpc failed|unable to access|is this a git repository|"
    r"dumb http|protocol error|bad line length|invalid server response|kex_exchange|"
    r"banner exchange|host key|could not read from remote repository|proxy|redirect",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"repository (\S+ )?not found|does not appear to be a git repository", re.IGNORECASE
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]*")
_SCP_IN_TEXT = re.compile(r"[\w.\-]+@[\w.\-\[\]:]+:[^\s'\"]*")
_IPV4_IN_TEXT = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_IPV6_IN_TEXT = re.compile(r"\[[0-9A-Fa-f:.]+\](?::\d+)?")
_PATH_IN_TEXT = re.compile(r"(?<![\w<>])/[^\s'\"]+")
_SUMMARY_LINES = 5
_FAILURE_WORDS = ("fatal:", "error:")
_SUMMARY_LENGTH = 300


def generic_git_error(stderr: str) -> str:
    """What to tell the user about a failed git command: connection-level failures all read
    "the repository could not be reached"; authentication and missing repositories or
    branches say so (naming no address); anything else is git's last lines with addresses
    and paths removed."""
    if _AUTH_FAILED.search(stderr):
        return AUTHENTICATION_FAILED
    if _NEEDS_CREDENTIALS.search(stderr):
        return CREDENTIALS_NEEDED
    branch = _MISSING_BRANCH.search(stderr)
    if branch is not None:
        return f"the branch {shown(branch.group(1))} does not exist in the repository"
    if _NOT_FOUND.search(stderr):
        return NOT_FOUND
    if _CONNECTION.search(stderr):
        return UNREACHABLE
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith(_FAILURE_WORDS)), 0)
    summary = " ".join(lines[first : first + _SUMMARY_LINES])
    for pattern, mask in (
        (_URL, "<url>"),
        (_SCP_IN_TEXT, "<url>"),
        (_IPV6_IN_TEXT, "<address>"),
        (_IPV4_IN_TEXT, "<address>"),
        (_PATH_IN_TEXT, "<path>"),
    ):
        summary = pattern.sub(mask, summary)
    summary = _control_free(summary)[:_SUMMARY_LENGTH]
    return summary or "git failed"


def _control_free(text: str) -> str:
    return "".join(" " if control_character(character) else character for character in text)


def _file_url(url: str, field: str, allowed_file_roots: Sequence[str]) -> str:
    if not allowed_file_roots:
        raise Invalid.field(field, f"file:// repositories are not allowed here (got {shown(url)})")
    return confine(url, field, allowed_file_roots).url


def _network_url_problem(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return "is not a valid URL"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if "@" in userinfo:
        return "has more than one '@' before the host"
    if parts.password is not None:
        return "has a password in it: give it as the password, which is stored encrypted"
    if at and not userinfo:
        return "has an empty user name before '@'"
    return _user_problem(parts.username) or _host_problem(url_host(url))


def _user_problem(user: str | None) -> str:
    if user is not None and user.startswith("-"):
        return "has a user name starting with '-', which ssh would read as an option"
    return ""


def _host_problem(host: str) -> str:
    """Why ``host`` (a name, or an IP literal, IPv6 in brackets) cannot be cloned from."""
    if not host:
        return "names no host"
    if host.startswith("["):
        try:
            literal: Address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "has an invalid IPv6 address"
    else:
        if not _HOSTNAME.match(host):
            return "has an invalid host name (ASCII letters, digits, '-' and '.')"
        try:
            literal = ipaddress.IPv4Address(host)
        except ValueError:
            if _numeric_address(host):
                return "names an IPv4 address in a non-standard form; write a.b.c.d"
            return ""  # a name: resolved and checked just before the clone
    kind = address_kind(literal)
    return f"names an address that is not public ({kind})" if kind else ""


def _numeric_address(host: str) -> bool:
    """Whether the C resolver reads ``host`` as a number (``127.1``, ``0x7f000001``, …)."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        embedded.append(address.teredo[1])  # the client's address
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [candidate for candidate in embedded if candidate is not None]
