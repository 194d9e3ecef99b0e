"""Which Spark settings, shipped files and environment variables a user may give.

The platform starts Spark processes with its own power: a setting that changes how a
process starts (JVM options, class paths, interpreters, listeners), what it trusts
(authentication, TLS), where it listens or logs, or that names a place to read or write
would lend that power. Such keys are refused, or their paths confined to the studio's
storage. Spark compares keys case-sensitively; the check compares them folded (case and
surrounding spaces) so that no spelling of a refused key slips through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from sparkstudio.errors import Invalid
from sparkstudio.rules.locations import Location, confine
from sparkstudio.rules.text import control_character, shown

RUNTIME_KEY = "spark.sparkstudio.runtime"
# The same shape as template keys: nothing a properties file or ``--conf k=v`` could split.
KEY_PATTERN = re.compile(r"^spark\.[A-Za-z0-9_.\-]{1,250}$")
_PLATFORM = "is set by the platform"
_PROCESS = "changes how Spark's processes start or what they load"
_TRUST = "controls authentication and encryption, which the platform manages"
_LOGS = "controls UIs, logs and metrics, which the platform serves"
_REDACTION = "decides which secrets UIs and logs hide, which the platform manages"
_DRIVER_FILES = "lets Spark Connect clients write the driver's own files"
_REPOSITORY = "reaches a package repository, and none is reachable: ship jars with spark.jars"
# Families: the key itself and everything under it (``spark.ui`` and ``spark.ui.port``).
REFUSED_FAMILIES: dict[str, str] = {
    "spark.sparkstudio": _PLATFORM,
    "spark.connect": _PLATFORM,
    "spark.master": _PLATFORM,
    "spark.remote": _PLATFORM,
    "spark.api.mode": _PLATFORM,
    "spark.app.id": _PLATFORM,
    "spark.submit.deployMode": _PLATFORM,
    "spark.driver.host": _PLATFORM,
    "spark.driver.bindAddress": _PLATFORM,
    "spark.driver.port": _PLATFORM,
    "spark.blockManager.port": _PLATFORM,
    "spark.driver.blockManager.port": _PLATFORM,
    "spark.local.dir": _PLATFORM,
    "spark.yarn": _PLATFORM,
    "spark.kubernetes": _PLATFORM,
    "spark.deploy": _PLATFORM,
    "spark.worker": _PLATFORM,
    "spark.network.crypto": _TRUST,
    "spark.ssl": _TRUST,
    "spark.redaction": _REDACTION,
    "spark.sql.redaction": _REDACTION,
    "spark.sql.artifact": _DRIVER_FILES,
    "spark.acls": _LOGS,
    "spark.admin.acls": _LOGS,
    "spark.modify.acls": _LOGS,
    "spark.user.groups.mapping": _LOGS,
    "spark.ui": _LOGS,
    "spark.eventLog": _LOGS,
    "spark.history": _LOGS,
    "spark.metrics": _LOGS,
    "spark.driver.log": _LOGS,
    "spark.executorEnv": _PROCESS,
    "spark.pyspark.python": _PROCESS,
    "spark.pyspark.driver.python": _PROCESS,
    "spark.python.daemon.module": _PROCESS,
    "spark.python.worker.module": _PROCESS,
    "spark.python.unix.domain.socket": _PROCESS,
    "spark.r": _PROCESS,
    "spark.sparkr": _PROCESS,
    "spark.repl": _PROCESS,
    "spark.plugins": _PROCESS,
    "spark.extraListeners": _PROCESS,
    "spark.sql.queryExecutionListeners": _PROCESS,
    "spark.sql.streaming.streamingQueryListeners": _PROCESS,
    "spark.sql.hive.metastore.jars": _PROCESS,
    "spark.hadoop": _PROCESS,
    "spark.jars.packages": _REPOSITORY,
    "spark.jars.repositories": _REPOSITORY,
    "spark.jars.ivy": _REPOSITORY,
    "spark.jars.ivySettings": _REPOSITORY,
    "spark.jars.excludes": _REPOSITORY,
}
# Plain prefixes: spark.authenticate, spark.authenticate.secret, spark.authenticateX…
REFUSED_PREFIXES: dict[str, str] = {"spark.authenticate": _TRUST}
REFUSED_SUFFIXES: dict[str, str] = {
    suffix: _PROCESS
    for suffix in (
        ".extraJavaOptions",
        ".defaultJavaOptions",
        ".extraClassPath",
        ".extraLibraryPath",
        ".discoveryScript",
    )
}
# Keys whose value is places: each one is confined to the allowed locations.
PATH_LISTS = frozenset({"spark.jars", "spark.files", "spark.archives", "spark.submit.pyFiles"})
ALIASED_LISTS = frozenset({"spark.files", "spark.archives"})  # item#alias names the copy
SINGLE_PATHS = frozenset(
    {
        "spark.sql.warehouse.dir",
        "spark.sql.streaming.checkpointLocation",
        "spark.checkpoint.dir",
        "spark.python.profile.dump",
        "spark.driver.resourcesFile",
        "spark.storage.decommission.fallbackStorage.path",
    }
)
# spark-submit's options that ship files, and the property each one fills.
SHIPPING_OPTIONS = {
    "--jars": "spark.jars",
    "--py-files": "spark.submit.pyFiles",
    "--files": "spark.files",
    "--archives": "spark.archives",
}
REPOSITORY_OPTIONS = frozenset({"--packages", "--repositories", "--exclude-packages"})
_ALIAS = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._\-]{0,254}$")


def folded(key: str) -> str:
    """How keys are compared: without surrounding spaces, in lower case."""
    return key.strip().lower()


def _folded_table(table: Mapping[str, str]) -> dict[str, str]:
    return {folded(key): why for key, why in table.items()}


_FAMILIES = _folded_table(REFUSED_FAMILIES)
_PREFIXES = _folded_table(REFUSED_PREFIXES)
_SUFFIXES = _folded_table(REFUSED_SUFFIXES)
_PATH_LISTS = {folded(key) for key in PATH_LISTS}
_ALIASED = {folded(key) for key in ALIASED_LISTS}
_SINGLE_PATHS = {folded(key) for key in SINGLE_PATHS}


def refusal(key: str) -> str:
    """Why ``key`` may not be set by a user, in any spelling ('' when it may)."""
    key = folded(key)
    if key == RUNTIME_KEY:
        return ""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        why = _FAMILIES.get(".".join(parts[:end]))
        if why:
            return why
    for prefix, why in _PREFIXES.items():
        if key.startswith(prefix):
            return why
    for suffix, why in _SUFFIXES.items():
        if key.endswith(suffix):
            return why
    return ""


def check_spark_conf(
    conf: Mapping[str, str], field: str, *, allowed_locations: Sequence[str]
) -> dict[str, str]:
    """``conf`` checked: refused keys are a 422 naming ``field`` and the key; paths are
    confined to ``allowed_locations`` and come back normalised; the rest passes as given."""
    checked: dict[str, str] = {}
    for key, value in conf.items():
        why = refusal(key)
        if why:
            raise Invalid.field(field, f"{shown(key)} {why}; remove it")
        if not KEY_PATTERN.match(key):
            raise Invalid.field(
                field,
                f"{shown(key)} is not a Spark key: keys start with 'spark.' and use letters, "
                "digits, '.', '_' and '-'",
            )
        control = control_character(value)
        if control:
            raise Invalid.field(field, f"the value of {key} contains a control character")
        checked[key] = _checked_value(key, value, field, allowed_locations)
    return checked


def check_shipped_files(
    option: str, value: str, field: str, *, allowed_locations: Sequence[str]
) -> str:
    """The value of spark-submit's ``--jars``, ``--py-files``, ``--files`` or ``--archives``
    with every place confined (``#alias`` on --files and --archives); ``--packages`` is
    refused: no package repository is reachable from the platform."""
    if option in REPOSITORY_OPTIONS:
        raise Invalid.field(
            field,
            f"{option} needs a package repository, and none is reachable: put the jars in the "
            "studio's storage and give them with --jars",
        )
    if option not in SHIPPING_OPTIONS:
        raise Invalid.field(
            field, f"{option} does not ship files; use {', '.join(SHIPPING_OPTIONS)}"
        )
    if control_character(value):
        raise Invalid.field(field, f"the value of {option} contains a control character")
    aliases = SHIPPING_OPTIONS[option] in ALIASED_LISTS
    return _place_list(value, option, field, allowed_locations, aliases=aliases)


# Variables that steer the interpreters, the JVM, the loader, git, the cloud and HTTP
# clients, temporary files or the shell: each would lend the platform's processes to the
# user. Compared in upper case.
REFUSED_VARIABLE_PREFIXES = (
    "SPARKSTUDIO_",
    "JUPYTER_",
    "IPYTHON",
    "PYTHON",
    "PYSPARK_",
    "SPARK_",
    "HADOOP_",
    "YARN_",
    "LD_",
    "JAVA_",
    "_JAVA_",
    "JDK_",
    "GIT_",
    "SSH_",
    "AWS_",
    "BOTO_",
    "GOOGLE_",
    "AZURE_",
    "FSSPEC_",
    "GRPC_",
    "OPENSSL_",
    "SSL_CERT_",
    "KRB5",
    "XDG_",
)
REFUSED_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "CLASSPATH",
        "TMPDIR",
        "TMP",
        "TEMP",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSLKEYLOGFILE",
        "GCONV_PATH",
        "LOCPATH",
        "NLSPATH",
        "HOSTALIASES",
        "RES_OPTIONS",
        "LOCALDOMAIN",
    }
)
VARIABLE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_environment_variables(names: Iterable[str], field: str) -> None:
    """Refuse (422 naming ``field`` and the variable) names the platform's processes obey."""
    for name in names:
        if not VARIABLE_PATTERN.match(name):
            raise Invalid.field(
                field,
                f"{shown(name)} is not a variable name: a letter or '_', then letters, "
                "digits and '_'",
            )
        upper = name.upper()
        prefix = next((p for p in REFUSED_VARIABLE_PREFIXES if upper.startswith(p)), "")
        if prefix or upper in REFUSED_VARIABLES:
            rule = f"names starting with {prefix} steer" if prefix else f"{name} steers"
            raise Invalid.field(
                field,
                f"{name} may not be set: {rule} the platform's own processes (the "
                "interpreters, the JVM, the loader, git, cloud and HTTP clients, temporary "
                "files or the shell); choose another name",
            )


def _checked_value(key: str, value: str, field: str, allowed: Sequence[str]) -> str:
    lowered = folded(key)
    if lowered in _PATH_LISTS:
        return _place_list(value, key, field, allowed, aliases=lowered in _ALIASED)
    if lowered in _SINGLE_PATHS:
        return _confined_url(value.strip(), key, field, allowed)
    return value


def _place_list(
    value: str, owner: str, field: str, allowed: Sequence[str], *, aliases: bool
) -> str:
    """A comma-separated list of places, each confined; Spark trims items and skips empty
    ones. ``owner`` (the key or option) is named in every refusal."""
    items: list[str] = []
    for item in (piece.strip() for piece in value.split(",")):
        if not item:
            continue
        place, hash_sign, alias = item.partition("#")
        if hash_sign and not aliases:
            raise Invalid.field(
                field, f"{owner}: {shown(item)} has a '#'; only files and archives take a #alias"
            )
        if hash_sign and not _ALIAS.match(alias):  # never '.', '..' or a path
            raise Invalid.field(
                field,
                f"{owner}: the alias of {shown(item)} is not a plain file name "
                "(letters, digits, '.', '_', '-')",
            )
        url = _confined_url(place, owner, field, allowed)
        items.append(f"{url}#{alias}" if hash_sign else url)
    return ",".join(items)


def _confined_url(place: str, owner: str, field: str, allowed: Sequence[str]) -> str:
    try:
        location = confine(place, field, allowed)
    except Invalid as refused:
        raise Invalid.field(field, f"{owner}: {refused.fields[0]['message']}") from None
    return _spark_url(place, location)


def _spark_url(given: str, location: Location) -> str:
    """The checked URL, keeping Hadoop's s3a:// or s3n:// when that is what was written
    (Spark reads s3:// only where a file system is configured for it)."""
    scheme = given.partition(":")[0].lower()
    if location.scheme == "s3" and scheme in ("s3a", "s3n"):
        return scheme + location.url.removeprefix("s3")
    return location.url
