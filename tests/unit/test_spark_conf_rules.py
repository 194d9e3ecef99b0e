"""Spark settings, shipped files and environment variables a studio member may give."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sparkstudio.errors import Invalid
from sparkstudio.rules.spark_conf import (
    REFUSED_FAMILIES,
    check_environment_variables,
    check_shipped_files,
    check_spark_conf,
    refusal,
)

FIELD = "job_driver.spark_submit.spark_conf"
STUDIO_A = ["file:///data/studios/st-a", "s3://lake/studios/st-a"]

# Keys that change the platform's processes or what they trust, in Spark's own spelling.
REFUSED_KEYS = [
    "spark.sparkstudio.home",
    "spark.sparkstudio.connect.token",
    "spark.connect.authenticate.token",
    "spark.connect.grpc.binding.port",
    "spark.authenticate",
    "spark.authenticate.secret",
    "spark.authenticate.secret.file",
    "spark.network.crypto.enabled",
    "spark.ssl.enabled",
    "spark.ssl.ui.keyStore",
    "spark.master",
    "spark.remote",
    "spark.submit.deployMode",
    "spark.driver.host",
    "spark.driver.bindAddress",
    "spark.driver.port",
    "spark.blockManager.port",
    "spark.driver.blockManager.port",
    "spark.ui.port",
    "spark.ui.reverseProxy",
    "spark.ui.filters",
    "spark.eventLog.dir",
    "spark.eventLog.enabled",
    "spark.history.fs.logDirectory",
    "spark.metrics.conf",
    "spark.metrics.conf.*.sink.csv.directory",
    "spark.driver.extraJavaOptions",
    "spark.executor.extraJavaOptions",
    "spark.driver.defaultJavaOptions",
    "spark.executor.defaultJavaOptions",
    "spark.driver.extraClassPath",
    "spark.executor.extraClassPath",
    "spark.driver.extraLibraryPath",
    "spark.executor.extraLibraryPath",
    "spark.driver.resource.gpu.discoveryScript",
    "spark.executor.resource.gpu.discoveryScript",
    "spark.executorEnv.LD_PRELOAD",
    "spark.yarn.appMasterEnv.X",
    "spark.kubernetes.driver.podTemplateFile",
    "spark.redaction.regex",
    "spark.sql.redaction.string.regex",
    "spark.local.dir",
    "spark.pyspark.python",
    "spark.pyspark.driver.python",
    "spark.python.daemon.module",
    "spark.python.worker.module",
    "spark.plugins",
    "spark.plugins.defaultList",
    "spark.extraListeners",
    "spark.sql.queryExecutionListeners",
    "spark.sql.streaming.streamingQueryListeners",
    "spark.jars.packages",
    "spark.jars.repositories",
    "spark.jars.ivy",
    "spark.jars.ivySettings",
    "spark.jars.excludes",
    "spark.hadoop.fs.s3a.endpoint",
    "spark.hadoop.fs.defaultFS",
    "spark.sql.hive.metastore.jars",
    "spark.sql.hive.metastore.jars.path",
    "spark.sql.artifact.copyFromLocalToFs.allowDestLocal",
    "spark.r.command",
    "spark.driver.log.dfsDir",
    "spark.acls.enable",
    "spark.api.mode",
]


def refused_message(conf: dict[str, str]) -> str:
    with pytest.raises(Invalid) as caught:
        check_spark_conf(conf, FIELD, allowed_locations=STUDIO_A)
    assert caught.value.status == 422
    assert caught.value.fields[0]["field"] == FIELD
    return str(caught.value.fields[0]["message"])


@pytest.mark.parametrize("key", REFUSED_KEYS)
def test_keys_the_platform_owns_are_refused_naming_the_key(key: str) -> None:
    message = refused_message({"spark.app.name": "fine", key: "x"})
    assert key in message and "remove it" in message


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("spark.master", "set by the platform"),
        ("spark.driver.extraJavaOptions", "how Spark's processes start"),
        ("spark.authenticate.secret", "authentication"),
        ("spark.eventLog.dir", "logs"),
        ("spark.jars.packages", "package repository"),
    ],
)
def test_refusals_say_why(key: str, why: str) -> None:
    assert why in refused_message({key: "x"})


def test_settings_of_the_users_own_job_pass_as_given() -> None:
    conf = {
        "spark.sparkstudio.runtime": "classic",
        "spark.executor.memory": "2g",
        "spark.sql.shuffle.partitions": "8",
        "spark.app.name": "nightly etl",
        "spark.sql.session.timeZone": "UTC",
        "spark.files.overwrite": "true",
        "spark.driver.memory": "1g",
        "spark.sql.redactionish": "x",
        "spark.uiTheme": "dark",  # families end on a segment: not spark.ui
        "spark.rdd.compress": "true",  # not spark.r
        "spark.masterName": "x",  # not spark.master
    }
    assert check_spark_conf(conf, FIELD, allowed_locations=STUDIO_A) == conf


@pytest.mark.parametrize(
    "key",
    [
        "executor.memory",
        "fs.s3a.endpoint",
        "SPARK.app.name",
        "spark.driver.extraJavaOptions=-javaagent:/x.jar",  # --conf k=v splits at '='
        "spark.app.name:spark.master",  # a properties file splits at ':'
        "spark.app name",
        "spark.",
        "spark.app.naméé",
    ],
)
def test_keys_that_are_not_plain_spark_keys_are_refused(key: str) -> None:
    message = refused_message({key: "x"})
    assert "remove it" in message or "is not a Spark key" in message


def test_control_characters_in_values_are_refused() -> None:
    """A newline would add a line of its own to a properties file."""
    message = refused_message({"spark.app.name": "x\nspark.driver.extraJavaOptions=-Dy"})
    assert "spark.app.name" in message and "control character" in message


def test_paths_in_settings_are_confined_and_normalised() -> None:
    conf = {
        "spark.jars": " file:///data/studios/st-a/lib/a.jar, s3a://lake/studios/st-a//b.jar,",
        "spark.files": "/data/studios/st-a/conf/app.conf#app.conf",
        "spark.archives": "s3://lake/studios/st-a/env.tar.gz#env",
        "spark.submit.pyFiles": "/data/studios/st-a/lib/helpers.zip",
        "spark.sql.warehouse.dir": "s3a://lake/studios/st-a/warehouse/",
        "spark.sql.streaming.checkpointLocation": "/data/studios/st-a/checkpoints",
        "spark.checkpoint.dir": "file:///data/studios/st-a/rdd-checkpoints",
    }
    assert check_spark_conf(conf, FIELD, allowed_locations=STUDIO_A) == {
        "spark.jars": "file:///data/studios/st-a/lib/a.jar,s3a://lake/studios/st-a/b.jar",
        "spark.files": "file:///data/studios/st-a/conf/app.conf#app.conf",
        "spark.archives": "s3://lake/studios/st-a/env.tar.gz#env",
        "spark.submit.pyFiles": "file:///data/studios/st-a/lib/helpers.zip",
        "spark.sql.warehouse.dir": "s3a://lake/studios/st-a/warehouse",
        "spark.sql.streaming.checkpointLocation": "file:///data/studios/st-a/checkpoints",
        "spark.checkpoint.dir": "file:///data/studios/st-a/rdd-checkpoints",
    }


@pytest.mark.parametrize(
    ("conf", "why"),
    [
        ({"spark.jars": "/data/studios/st-a/a.jar,/data/studios/st-b/b.jar"}, "must be under"),
        ({"spark.jars": "local:/opt/spark/jars/x.jar"}, "scheme 'local:'"),
        ({"spark.jars": "https://example.org/x.jar"}, "scheme 'https:'"),
        ({"spark.jars": "/data/studios/st-a/a.jar#alias"}, "only files and archives"),
        ({"spark.files": "/data/studios/st-a/a.txt#../../etc/x"}, "not a plain file name"),
        ({"spark.archives": "/data/studios/st-a/a.zip#.."}, "not a plain file name"),
        ({"spark.submit.pyFiles": "/data/studios/st-a/%2e%2e/st-b/x.py"}, "'..' segment"),
        ({"spark.sql.warehouse.dir": "spark-warehouse"}, "is not absolute"),
        ({"spark.sql.streaming.checkpointLocation": "s3://lake/studios/st-b/c"}, "must be under"),
        ({"spark.checkpoint.dir": "file:///tmp"}, "must be under"),
        ({"SPARK.Jars ": "/etc/passwd"}, ""),
    ],
)
def test_paths_outside_the_studio_are_refused_naming_the_key(
    conf: dict[str, str], why: str
) -> None:
    message = refused_message(conf)
    assert why in message
    key = next(iter(conf))
    assert key in message or repr(key) in message


def test_paths_with_no_allowed_location_are_refused() -> None:
    with pytest.raises(Invalid, match="no location is allowed"):
        check_spark_conf({"spark.jars": "/data/x.jar"}, FIELD, allowed_locations=[])


def case_and_space_variants() -> st.SearchStrategy[str]:
    """A refused key with any letters upper-cased and any spaces around it."""

    def spell(key: str, flips: int, before: str, after: str) -> str:
        letters = (c.upper() if flips >> i & 1 else c for i, c in enumerate(key))
        return before + "".join(letters) + after

    spaces = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003", max_size=3)
    flips = st.one_of(st.just(0), st.just(-1), st.integers(min_value=0, max_value=2**80))
    return st.builds(spell, st.sampled_from(REFUSED_KEYS), flips, spaces, spaces)


@settings(max_examples=500, deadline=None)
@given(case_and_space_variants(), st.text(max_size=20))
@example(" Spark.Driver.ExtraJavaOptions", "-javaagent:/data/studios/st-b/agent.jar")
@example("SPARK.SPARKSTUDIO.HOME", "/data/studios/st-b")
@example("spark.connect.authenticate.token\t", "guess")
@example("spark.executorEnv.LD_PRELOAD ", "/data/studios/st-a/evil.so")
def test_no_spelling_of_a_refused_key_gets_through(key: str, value: str) -> None:
    assert refusal(key)
    with pytest.raises(Invalid) as caught:
        check_spark_conf({key: value}, FIELD, allowed_locations=STUDIO_A)
    assert caught.value.fields[0]["field"] == FIELD


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(REFUSED_FAMILIES)), st.text(alphabet="abcXYZ.-_", max_size=12))
def test_everything_under_a_refused_family_is_refused(family: str, tail: str) -> None:
    """``spark.ui`` refuses ``spark.ui.anything`` but not ``spark.uiTheme``."""
    key = f"{family}.{tail}"
    if key.lower() == "spark.sparkstudio.runtime":
        assert not refusal(key)  # the one platform key a run may choose
    else:
        assert refusal(key)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        (
            "--jars",
            "/data/studios/st-a/a.jar, s3a://lake/studios/st-a//b.jar",
            "file:///data/studios/st-a/a.jar,s3a://lake/studios/st-a/b.jar",
        ),
        ("--py-files", "/data/studios/st-a/lib.zip", "file:///data/studios/st-a/lib.zip"),
        (
            "--files",
            "/data/studios/st-a/app.conf#app.conf",
            "file:///data/studios/st-a/app.conf#app.conf",
        ),
        (
            "--archives",
            "s3://lake/studios/st-a/env.tar.gz#env",
            "s3://lake/studios/st-a/env.tar.gz#env",
        ),
    ],
)
def test_shipped_files_inside_the_studio_pass_normalised(
    option: str, value: str, expected: str
) -> None:
    assert check_shipped_files(option, value, FIELD, allowed_locations=STUDIO_A) == expected


@pytest.mark.parametrize(
    ("option", "value", "why"),
    [
        ("--packages", "org.example:lib:1.0", "needs a package repository, and none is reachable"),
        ("--packages", "org.example:lib:1.0", "--jars"),
        ("--repositories", "https://repo.example.org", "none is reachable"),
        ("--jars", "/etc/passwd", "must be under"),
        ("--jars", "file:///data/studios/st-b/x.jar", "must be under"),
        ("--py-files", "/data/studios/st-a/x.py#alias", "only files and archives"),
        ("--files", "/data/studios/st-a/x#a/b", "not a plain file name"),
        ("--files", "/data/studios/st-a/x\n", "control character"),
        ("--conf", "spark.master=local", "does not ship files"),
    ],
)
def test_shipped_files_outside_the_studio_are_refused(option: str, value: str, why: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_shipped_files(option, value, FIELD, allowed_locations=STUDIO_A)
    assert caught.value.fields[0]["field"] == FIELD
    assert why in caught.value.fields[0]["message"]


@pytest.mark.parametrize(
    "name",
    [
        "SPARKSTUDIO_ADMIN_PASSWORD",
        "sparkstudio_home",
        "JUPYTER_CONFIG_DIR",
        "PYTHONPATH",
        "PythonStartup",
        "LD_PRELOAD",
        "ld_library_path",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "SPARK_HOME",
        "PYSPARK_PYTHON",
        "GIT_SSH_COMMAND",
        "AWS_ACCESS_KEY_ID",
        "KRB5CCNAME",
        "PATH",
        "path",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "IFS",
        "ENV",
        "BASH_ENV",
        "HTTPS_PROXY",
        "http_proxy",
        "TMPDIR",
        "CLASSPATH",
        "HADOOP_CONF_DIR",
    ],
)
def test_environment_variables_that_steer_the_platform_are_refused(name: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_environment_variables(["RUN_DATE", name], "environment")
    assert caught.value.fields[0]["field"] == "environment"
    assert name in caught.value.fields[0]["message"]
    assert "choose another name" in caught.value.fields[0]["message"]


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B", "A=B", "BASH_FUNC_x%%", "É"])
def test_environment_variable_names_have_a_plain_shape(name: str) -> None:
    with pytest.raises(Invalid, match="not a variable name"):
        check_environment_variables([name], "environment")


def test_ordinary_environment_variables_pass() -> None:
    check_environment_variables(["RUN_DATE", "_private", "MY_PATH", "TEAM", "Region2"], "env")
