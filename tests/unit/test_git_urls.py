"""Git URLs a workspace may clone, the limits on the git that clones, and its messages."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import pytest

from sparkstudio.errors import Invalid
from sparkstudio.rules.git_urls import (
    AUTHENTICATION_FAILED,
    CREDENTIALS_NEEDED,
    NOT_FOUND,
    UNREACHABLE,
    address_kind,
    check_git_url,
    generic_git_error,
    git_config_args,
    git_environment_hardening,
    public_address_problem,
    url_host,
)

FIELD = "url"
STUDIO_A_FILES = ["file:///data/studios/st-a"]


def refusal(url: str, roots: list[str] = STUDIO_A_FILES) -> str:
    with pytest.raises(Invalid) as caught:
        check_git_url(url, FIELD, allowed_file_roots=roots)
    assert caught.value.status == 422
    assert caught.value.fields[0]["field"] == FIELD
    return str(caught.value.fields[0]["message"])


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/apache/spark.git",
        "https://github.com/apache/spark",
        "HTTPS://github.com/apache/spark",
        "https://alice@gitlab.example.com/team/repo.git",
        "https://git.example.com:8443/team/repo.git",
        "https://8.8.8.8/team/repo.git",
        "https://[2606:4700::1111]/repo.git",
        "ssh://git@github.com/apache/spark.git",
        "ssh://git@github.com:2222/apache/spark.git",
        "git@github.com:apache/spark.git",
        "github.com:apache/spark.git",
    ],
)
def test_https_and_ssh_urls_pass_unchanged(url: str) -> None:
    assert check_git_url(url, FIELD, allowed_file_roots=STUDIO_A_FILES) == url


def test_file_urls_inside_the_studio_come_back_normalised() -> None:
    check = check_git_url
    assert (
        check("file:///data/studios/st-a//ws-1/repo/", FIELD, allowed_file_roots=STUDIO_A_FILES)
        == "file:///data/studios/st-a/ws-1/repo"
    )
    # A bare path becomes a file:// URL: git then clones through its transport, not by
    # hard-linking (and following links in) the source's object store.
    assert (
        check("/data/studios/st-a/ws-1/repo", FIELD, allowed_file_roots=STUDIO_A_FILES)
        == "file:///data/studios/st-a/ws-1/repo"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        # The attacks of a member of studio A: another studio's files, the platform's ports.
        ("file:///data/studios/st-b/ws-1/repo", "must be under file:///data/studios/st-a"),
        ("/data/studios/st-b/ws-1/repo", "must be under"),
        ("file:///data/studios/st-a/../st-b/ws-1/repo", "'..' segment"),
        ("file:///data/studios/st-a/%2e%2e/st-b/repo", "'..' segment"),
        ("file://localhost/data/studios/st-a/repo", "names a host"),
        ("http://127.0.0.1:5432", "plain http://"),
        ("http://github.com/apache/spark.git", "plain http://"),
        ("https://127.0.0.1:5432/x", "not public (loopback)"),
        ("https://10.0.0.7/repo.git", "not public (private)"),
        ("https://169.254.169.254/latest/meta-data", "not public (link-local)"),
        ("https://[::1]:8780/x", "not public (loopback)"),
        ("https://[::ffff:127.0.0.1]/x", "not public (loopback)"),
        ("https://0.0.0.0/x", "not public (unspecified)"),
        ("https://2130706433/x", "non-standard form"),
        ("https://0x7f.1/x", "non-standard form"),
        ("https://127.1/x", "non-standard form"),
        ("ssh://git@[fe80::1]/x", "not public (link-local)"),
        ("git@10.1.2.3:repo.git", "not public (private)"),
        # Transports that run programs or travel in clear.
        ("ext::sh -c touch% /tmp/pwned", "spaces"),
        ("ext::sh%20-c%20id", "transport helper"),
        ("fd::3", "transport helper"),
        ("github.com::repo", "transport helper"),
        ("git://github.com/apache/spark.git", "git://"),
        ("ftp://example.org/repo", "ftp://"),
        ("s3://lake/studios/st-a/repo", "s3://"),
        # What git or ssh would read as options.
        ("-uhelp", "starts with '-'"),
        ("--upload-pack=touch /tmp/x", "spaces"),
        ("ssh://-oProxyCommand=touch%20x/repo", "invalid host name"),
        ("ssh://-oProxyCommand=x@github.com/repo", "starting with '-'"),
        ("-oProxyCommand=x@github.com:repo", "starts with '-'"),
        # Credentials, shapes.
        ("https://alice:hunter2@github.com/repo.git", "password"),
        ("https://alice:@github.com/repo.git", "password"),
        ("https://@github.com/repo.git", "empty user name"),
        ("https://a@b@github.com/repo.git", "more than one '@'"),
        ("https://github.com\\@127.0.0.1/", "backslash"),
        ("https://github.com/re po", "spaces"),
        ("https://github.com/repo\x00", "control"),
        ("https://github.com/repo\u2028", "spaces"),
        ("https:///repo", "names no host"),
        ("https://exa_mple.com/repo", "invalid host name"),
        ("https://gïthub.com/repo", "invalid host name"),
        ("https://github.com:http/repo", "not a valid URL"),
        ("https://[::1/repo", "not a valid URL"),
        ("host:", "names no repository"),
        ("relative/dir", "is not a Git URL"),
        ("", "is empty"),
        ("https://github.com/" + "a" * 3000, "longer than"),
    ],
)
def test_refused_urls_say_why(url: str, why: str) -> None:
    assert why in refusal(url)


def test_file_urls_need_an_allowed_root() -> None:
    assert "file:// repositories are not allowed" in refusal("file:///data/studios/st-a/r", [])
    assert "file:// repositories are not allowed" in refusal("/data/studios/st-a/r", [])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", ""),
        ("2606:4700::1111", ""),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address judged, nothing bound)
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_address_kinds(address: str, kind: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


def fake_resolver(table: dict[str, list[str]]) -> Any:
    def getaddrinfo(host: str, *args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in table[host]]

    return getaddrinfo


def test_public_address_problem_resolves_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        fake_resolver(
            {
                "github.com": ["140.82.121.4"],
                "db.internal": ["10.0.0.5"],
                "rebinding.example": ["140.82.121.4", "127.0.0.1"],
                "scoped.example": ["fe80::1%eth0"],
            }
        ),
    )
    assert public_address_problem("github.com") == ""
    internal = public_address_problem("db.internal")
    unknown = public_address_problem("no-such-host.example")
    assert internal and unknown
    # Whether a name is internal or unknown is not told apart: no map of the network.
    assert internal.replace("db.internal", "X") == unknown.replace("no-such-host.example", "X")
    assert "10.0.0.5" not in internal
    assert public_address_problem("rebinding.example")  # one private answer is enough
    assert public_address_problem("scoped.example")


def test_public_address_problem_of_literals_needs_no_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({}))
    assert "loopback" in public_address_problem("127.0.0.1")
    assert "loopback" in public_address_problem("[::1]")
    assert "private" in public_address_problem("::ffff:192.168.0.1")
    assert public_address_problem("8.8.8.8") == ""


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://github.com/apache/spark.git", "github.com"),
        ("https://alice@git.example.com:8443/r.git", "git.example.com"),
        ("https://[2606:4700::1111]:443/r.git", "[2606:4700::1111]"),
        ("ssh://git@github.com:22/r.git", "github.com"),
        ("git@github.com:apache/spark.git", "github.com"),
        ("[2606:4700::1111]:r.git", "[2606:4700::1111]"),
        ("file:///data/studios/st-a/repo", ""),
    ],
)
def test_the_host_to_check_before_a_clone(url: str, host: str) -> None:
    assert url_host(url) == host


def test_names_are_judged_when_resolved() -> None:
    """A name passes the URL check; its addresses are checked just before the clone."""
    url = "https://localhost.:5432/x"
    assert check_git_url(url, FIELD, allowed_file_roots=STUDIO_A_FILES) == url
    assert public_address_problem("localhost.")
    assert public_address_problem("localhost")


def test_git_environment_allows_only_checked_protocols() -> None:
    closed = git_environment_hardening()
    assert closed["GIT_ALLOW_PROTOCOL"] == "https:ssh"
    assert git_environment_hardening(allow_file=True)["GIT_ALLOW_PROTOCOL"] == "https:ssh:file"
    assert closed["GIT_CONFIG_NOSYSTEM"] == "1"
    assert closed["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert closed["GIT_TERMINAL_PROMPT"] == "0"
    ssh = closed["GIT_SSH_COMMAND"]
    for option in ("IdentityAgent=none", "IdentityFile=none", "ProxyCommand=none", "-F /dev/null"):
        assert option in ssh  # the platform's own keys, agent and ssh config are not lent


def test_git_config_args_close_file_redirects_hooks_and_helpers() -> None:
    closed = git_config_args(allow_file=False)
    assert closed[::2] == ["-c"] * (len(closed) // 2)
    settings = closed[1::2]
    assert "protocol.file.allow=never" in settings
    assert "http.followRedirects=false" in settings
    assert "core.hooksPath=/dev/null" in settings
    assert "credential.helper=" in settings  # forgets helpers a working tree's config names
    assert "protocol.file.allow=user" in git_config_args(allow_file=True)[1::2]


@pytest.mark.parametrize(
    "stderr",
    [
        "fatal: unable to access 'https://10.0.0.5:5432/x/': Failed to connect to 10.0.0.5 "
        "port 5432 after 0 ms: Couldn't connect to server",
        "fatal: unable to access 'https://10.0.0.5/x/': Connection timed out after 300000 ms",
        "fatal: unable to access 'https://db.internal/x/': Could not resolve host: db.internal",
        "fatal: unable to access 'https://10.0.0.5:8080/x/': The requested URL returned error: 502",
        "fatal: unable to access 'https://10.0.0.5:5432/': OpenSSL/3.0.19: error:0A00010B:SSL "
        "routines::wrong version number",
        "fatal: unable to access 'https://10.0.0.5:443/': gnutls_handshake() failed",
        "fatal: unable to access 'https://10.0.0.5/': SSL certificate problem: self-signed "
        "certificate",
        "fatal: https://10.0.0.5:8780/info/refs not valid: is this a git repository?",
        "error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500",
        "fatal: the remote end hung up unexpectedly",
        "ssh: connect to host 10.0.0.5 port 22: Connection refused\r\n"
        "fatal: Could not read from remote repository.",
        "ssh: Could not resolve hostname db.internal: Name or service not known",
        "kex_exchange_identification: Connection closed by remote host",
        "fatal: unable to update url base from redirection",
    ],
)
def test_connection_failures_read_the_same(stderr: str) -> None:
    """Refused, silent, answering-with-HTTP and answering-with-garbage ports are one message."""
    assert generic_git_error(stderr) == UNREACHABLE


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        ("fatal: Authentication failed for 'https://github.com/a/b.git/'", AUTHENTICATION_FAILED),
        (
            "remote: Invalid username or password.\nfatal: Authentication failed",
            AUTHENTICATION_FAILED,
        ),
        (
            "git@github.com: Permission denied (publickey).\r\n"
            "fatal: Could not read from remote repository.",
            AUTHENTICATION_FAILED,
        ),
        (
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
            CREDENTIALS_NEEDED,
        ),
        (
            "remote: Repository not found.\nfatal: repository 'https://github.com/a/b.git/' "
            "not found",
            NOT_FOUND,
        ),
        (
            "fatal: '/data/studios/st-a/ws/x' does not appear to be a git repository\n"
            "fatal: Could not read from remote repository.",
            NOT_FOUND,
        ),
        (
            "warning: Could not find remote branch dev to clone.\n"
            "fatal: Remote branch dev not found in upstream origin",
            "the branch 'dev' does not exist in the repository",
        ),
    ],
)
def test_authentication_and_missing_things_stay_useful(stderr: str, message: str) -> None:
    assert generic_git_error(stderr) == message


def test_other_failures_keep_gits_words_without_addresses_or_paths() -> None:
    merge = (
        "From https://10.0.0.5/team/repo\n"
        " * branch            main       -> FETCH_HEAD\n"
        "error: Your local changes to the following files would be overwritten by merge:\n"
        "\tnotebook.ipynb\n"
        "Please commit your changes or stash them before you merge.\n"
        "Aborting"
    )
    summary = generic_git_error(merge)
    assert summary.startswith("error: Your local changes")
    assert "notebook.ipynb" in summary
    exists = generic_git_error(
        "fatal: destination path '/root/.sparkstudio/storage/st-a/ws/repo' already exists"
    )
    assert exists == "fatal: destination path '<path>' already exists"
    leaky = generic_git_error(
        "fatal: something odd at git@10.0.0.5:repo.git, [fd00::1]:22, 192.168.0.1:8080 "
        "and https://internal.example/x"
    )
    assert not re.search(r"10\.0\.0\.5|fd00|192\.168|internal\.example", leaky)
    assert generic_git_error("") == "git failed"
