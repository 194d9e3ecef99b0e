"""The per-user Spark Connect front before a real Spark Connect server.

One Spark Connect server (one JVM) serves the whole module; one front stands before it,
with a clock the tests move to expire tokens and admissions. Every test uses subjects
of its own, so what one test admits or forgets does not leak into another.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from pyspark.errors import AnalysisException
from pyspark.errors.exceptions.connect import SparkConnectGrpcException
from pyspark.sql.connect.proto import base_pb2
from pyspark.sql.connect.session import SparkSession

from sparkstudio.connect_front import ConnectClaims, ConnectFront, Upstream, mint
from sparkstudio.spark import processes
from sparkstudio.spark.home import find_spark_home

pytestmark = pytest.mark.spark

RESOURCE = "cl-front"
ELSEWHERE = "cl-elsewhere"  # admit() refuses every subject there
STOPPED = "cl-stopped"  # admit() lets subjects in, but nothing runs there
MOVING = "cl-moving"  # its driver moves between addresses during a test
READMIT_SECONDS = 60.0
SERVER_START_SECONDS = 180.0
SERVICE = base_pb2.DESCRIPTOR.services_by_name["SparkConnectService"]
OperationState = base_pb2.GetStatusResponse.OperationStatus.OperationState


class ManualClock:
    """The front's clock: tests move it to expire tokens and admissions."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class SparkServer:
    port: int
    token: str
    log: Path

    @property
    def upstream(self) -> Upstream:
        return Upstream(f"127.0.0.1:{self.port}", self.token)

    def url(self, user_id: str, session_id: str | None = None) -> str:
        """A direct connection, past the front, with the server's own token."""
        url = f"sc://localhost:{self.port}/;token={self.token};user_id={user_id}"
        return url + (f";session_id={session_id}" if session_id else "")


@dataclass
class Front:
    front: ConnectFront
    port: int
    key: bytes
    clock: ManualClock
    server: SparkServer
    upstreams: dict[str, Upstream]
    admitted: list[ConnectClaims] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)

    def token(
        self, subject: str, *, resource: str = RESOURCE, lifetime: float = 300, key: bytes = b""
    ) -> str:
        claims = ConnectClaims(subject, f"usr-{subject}", resource, int(self.clock() + lifetime))
        return mint(key or self.key, claims)

    def url(self, token: str, *, user_id: str = "mallory", session_id: str | None = None) -> str:
        url = f"sc://localhost:{self.port}/;token={token};user_id={user_id}"
        return url + (f";session_id={session_id}" if session_id else "")

    def admissions(self, subject: str) -> int:
        return sum(1 for claims in self.admitted if claims.subject == subject)

    def admit(self, claims: ConnectClaims) -> str | None:
        self.admitted.append(claims)
        if claims.subject in self.disabled:
            return f"user {claims.subject} is disabled"
        if claims.resource_id == ELSEWHERE:
            return f"{claims.subject} may not connect to {ELSEWHERE}"
        return None


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkServer]:
    home = find_spark_home()
    port = processes.free_port()
    token = secrets.token_urlsafe(24)
    work = tmp_path_factory.mktemp("connect-server")
    log = work / "connect-server.log"
    argv = [
        str(home.bin("spark-submit")),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[1]",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        f"spark.sql.warehouse.dir={work / 'warehouse'}",  # not in the working directory
        # Streams end every 2 MiB, so large results are read with ReattachExecute calls.
        "--conf",
        "spark.connect.execute.reattachable.senderMaxStreamSize=2m",
        "spark-internal",
    ]
    env = home.environment(SPARK_CONNECT_AUTHENTICATE_TOKEN=token)
    record = processes.launch("connect-server", argv, env, log)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not processes.port_open(port):
            if not processes.is_alive(record) or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log_tail(log)}")
            time.sleep(0.25)
        yield SparkServer(port, token, log)
    finally:
        processes.stop(record)


@pytest.fixture(scope="module")
def front(server: SparkServer) -> Iterator[Front]:
    clock = ManualClock()
    key = secrets.token_bytes(32)
    upstreams = {RESOURCE: server.upstream, ELSEWHERE: server.upstream}
    holder: list[Front] = []
    connect_front = ConnectFront(
        key,
        upstream=lambda resource_id: upstreams.get(resource_id),
        admit=lambda claims: holder[0].admit(claims),
        clock=clock,
        readmit_seconds=READMIT_SECONDS,
    )
    port = connect_front.start("127.0.0.1:0")
    holder.append(Front(connect_front, port, key, clock, server, upstreams))
    try:
        yield holder[0]
    finally:
        connect_front.stop()


@contextmanager
def remote(url: str) -> Iterator[SparkSession]:
    session = SparkSession.builder.remote(url).create()
    try:
        yield session
    finally:
        session.stop()  # releases the server session; never raises


@contextmanager
def raw_channel(port: int) -> Iterator[Any]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        channel.close()


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def config_get_all(session_id: str) -> Any:
    request = base_pb2.ConfigRequest(session_id=session_id)  # no user_context at all
    request.operation.get_all.SetInParent()
    return request


def call(channel: Any, method: str, request: Any, metadata: Any = ()) -> Any:
    """A unary call through the front, parsing the response as the method's type."""
    descriptor = SERVICE.methods_by_name[method]
    response_type = getattr(base_pb2, descriptor.output_type.name)
    stub = channel.unary_unary(
        f"/{SERVICE.full_name}/{method}",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_type.FromString,
    )
    return stub(request, metadata=metadata, timeout=60)


def execute(channel: Any, request: Any, metadata: Any) -> Any:
    stub = channel.unary_stream(
        f"/{SERVICE.full_name}/ExecutePlan",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=base_pb2.ExecutePlanResponse.FromString,
    )
    return stub(request, metadata=metadata, timeout=120)


def sql_request(session_id: str, query: str, operation_id: str = "") -> Any:
    request = base_pb2.ExecutePlanRequest(session_id=session_id, operation_id=operation_id)
    request.plan.root.sql.query = query
    return request


def refusal(action: Callable[[], object]) -> Any:
    with pytest.raises(grpc.RpcError) as caught:
        action()
    return caught.value


# -- every method, every call --------------------------------------------------------


def call_without_token(channel: Any, method: Any) -> None:
    """Call ``method`` with an empty request and no metadata, however it streams."""
    path = f"/{SERVICE.full_name}/{method.name}"
    if method.client_streaming and method.server_streaming:
        list(channel.stream_stream(path)(iter([b""]), timeout=30))
    elif method.client_streaming:
        channel.stream_unary(path)(iter([b""]), timeout=30)
    elif method.server_streaming:
        list(channel.unary_stream(path)(b"", timeout=30))
    else:
        channel.unary_unary(path)(b"", timeout=30)


def test_every_method_of_the_installed_service_is_proxied_and_needs_a_token(front: Front) -> None:
    names = {method.name for method in SERVICE.methods}
    assert {"ExecutePlan", "AnalyzePlan", "AddArtifacts", "ReattachExecute"} <= names
    with raw_channel(front.port) as channel:
        for method in SERVICE.methods:
            with pytest.raises(grpc.RpcError) as caught:
                call_without_token(channel, method)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, method.name
            assert "no Spark Connect token" in caught.value.details()


def test_a_query_runs_as_the_tokens_subject_whatever_user_id_the_client_claims(
    front: Front, server: SparkServer
) -> None:
    session_id = str(uuid.uuid4())
    url = front.url(front.token("alice"), user_id="mallory", session_id=session_id)
    with remote(url) as spark:
        assert spark.range(1000).selectExpr("sum(id) AS s").collect()[0]["s"] == 499500
        spark.sql("SELECT 1 AS x").createOrReplaceTempView("alices_view")
        # Spark keys sessions by (user_id, session_id): the session is alice's, not
        # mallory's. (Spark Connect 4.3 does not set current_user() from the user_id:
        # it answers the driver's OS user whatever the client is, so it proves nothing.)
        with remote(server.url("alice", session_id)) as as_alice:
            assert as_alice.catalog.tableExists("alices_view")
        with remote(server.url("mallory", session_id)) as as_mallory:
            assert not as_mallory.catalog.tableExists("alices_view")


def test_two_subjects_sharing_a_session_id_do_not_share_a_session(front: Front) -> None:
    shared = str(uuid.uuid4())
    with remote(front.url(front.token("bea"), session_id=shared)) as bea:
        bea.sql("SELECT 42 AS answer").createOrReplaceTempView("beas_view")
        with remote(front.url(front.token("bob"), session_id=shared)) as bob:
            assert not bob.catalog.tableExists("beas_view")
            bob.sql("SELECT 1 AS x").createOrReplaceTempView("bobs_view")
        assert not bea.catalog.tableExists("bobs_view")
        # The same subject with the same session id does reach the session.
        with remote(front.url(front.token("bea"), session_id=shared)) as bea_again:
            assert bea_again.table("beas_view").collect()[0]["answer"] == 42


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("no token", grpc.StatusCode.UNAUTHENTICATED, "no Spark Connect token"),
        ("not bearer", grpc.StatusCode.UNAUTHENTICATED, "must read 'Bearer <Spark Connect"),
        ("garbled", grpc.StatusCode.UNAUTHENTICATED, "malformed Spark Connect token"),
        ("forged", grpc.StatusCode.UNAUTHENTICATED, "signature does not match"),
        ("the server's own token", grpc.StatusCode.UNAUTHENTICATED, "malformed"),
        ("expired", grpc.StatusCode.UNAUTHENTICATED, "Spark Connect token expired at .* reconnect"),
        ("another resource", grpc.StatusCode.PERMISSION_DENIED, f"may not connect to {ELSEWHERE}$"),
        ("not running", grpc.StatusCode.UNAVAILABLE, f"^{STOPPED} is not running$"),
    ],
)
def test_a_call_is_refused_with_a_code_and_a_message_a_user_can_read(
    front: Front, case: str, code: Any, message: str
) -> None:
    metadata = {
        "no token": (),
        "not bearer": (("authorization", f"Basic {front.token('cid')}"),),
        "garbled": bearer("not-a-token"),
        "forged": bearer(front.token("cid", key=secrets.token_bytes(32))),
        "the server's own token": bearer(front.server.token),
        "expired": bearer(front.token("cid", lifetime=-1)),
        "another resource": bearer(front.token("cid", resource=ELSEWHERE)),
        "not running": bearer(front.token("cid", resource=STOPPED)),
    }[case]
    with raw_channel(front.port) as channel:
        error = refusal(
            lambda: call(channel, "Config", config_get_all(str(uuid.uuid4())), metadata)
        )
    assert error.code() == code
    assert re.search(message, error.details()), error.details()


def test_pyspark_shows_the_refusal(front: Front) -> None:
    with remote(front.url(front.token("cid", lifetime=-1))) as spark:
        with pytest.raises(SparkConnectGrpcException, match="token expired at") as caught:
            spark.range(1).collect()
        assert caught.value.getGrpcStatusCode() == grpc.StatusCode.UNAUTHENTICATED
    refused = f"may not connect to {ELSEWHERE}"
    with (
        remote(front.url(front.token("cid", resource=ELSEWHERE))) as spark,
        pytest.raises(SparkConnectGrpcException, match=refused),
    ):
        spark.range(1).collect()


def test_a_driver_that_moved_is_reached_at_its_new_address(front: Front) -> None:
    metadata = bearer(front.token("moe", resource=MOVING))
    nobody_listens = f"127.0.0.1:{processes.free_port()}"
    front.upstreams[MOVING] = Upstream(nobody_listens, front.server.token)
    try:
        with raw_channel(front.port) as channel:
            error = refusal(
                lambda: call(channel, "Config", config_get_all(str(uuid.uuid4())), metadata)
            )
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            # grpc's own message would name the address; the client gets the resource.
            assert error.details() == f"{MOVING} is not reachable right now; try again"
            front.upstreams[MOVING] = front.server.upstream
            response = call(channel, "Config", config_get_all(str(uuid.uuid4())), metadata)
            assert any(pair.key.startswith("spark.") for pair in response.pairs)
    finally:
        del front.upstreams[MOVING]


def test_a_session_whose_server_went_away_is_released_at_once(front: Front) -> None:
    """A cluster ended under a kernel: refused, pyspark would retry the release for
    minutes, holding its global session lock (no new session in that kernel meanwhile)."""
    front.upstreams[MOVING] = front.server.upstream
    try:
        spark = SparkSession.builder.remote(front.url(front.token("rita", resource=MOVING)))
        session = spark.create()
        assert session.range(3).count() == 3
    finally:
        del front.upstreams[MOVING]
    started = time.monotonic()
    session.stop()
    assert time.monotonic() - started < 10
    session_id = str(uuid.uuid4())
    metadata = bearer(front.token("rita", resource=MOVING))
    with raw_channel(front.port) as channel:
        request = base_pb2.ReleaseSessionRequest(session_id=session_id)
        assert call(channel, "ReleaseSession", request, metadata).session_id == session_id
        # Any other call still says that nothing runs there.
        error = refusal(lambda: call(channel, "Config", config_get_all(session_id), metadata))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_the_front_listens_on_a_unix_socket(front: Front, tmp_path: Path) -> None:
    socket = tmp_path / "front.sock"
    unix_front = ConnectFront(front.key, upstream=lambda _: None, admit=lambda _: None)
    assert unix_front.start(f"unix:{socket}") == 0
    try:
        with grpc.insecure_channel(f"unix:{socket}") as channel:
            request = config_get_all(str(uuid.uuid4()))
            error = refusal(lambda: call(channel, "Config", request, bearer(front.token("ned"))))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details() == f"{RESOURCE} is not running"
    finally:
        unix_front.stop()


# -- admission -------------------------------------------------------------------------


def test_admit_is_asked_once_per_new_session_then_every_readmit_seconds(front: Front) -> None:
    with remote(front.url(front.token("carol"))) as spark:
        for _ in range(3):
            spark.range(5).collect()
        assert front.admissions("carol") == 1
        front.clock.advance(READMIT_SECONDS + 1)
        spark.range(5).collect()
        assert front.admissions("carol") == 2
        front.disabled.add("carol")
        try:
            spark.range(5).collect()  # admitted a moment ago: the refusal waits its turn
            front.clock.advance(READMIT_SECONDS + 1)
            with pytest.raises(SparkConnectGrpcException, match="user carol is disabled") as caught:
                spark.range(5).collect()
            assert caught.value.getGrpcStatusCode() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            front.disabled.discard("carol")


def test_concurrent_first_calls_of_a_session_are_admitted_once(front: Front) -> None:
    session_id = str(uuid.uuid4())
    metadata = bearer(front.token("cora"))
    errors: list[BaseException] = []

    def first_call(channel: Any) -> None:
        try:
            call(channel, "Config", config_get_all(session_id), metadata)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    with raw_channel(front.port) as channel:
        threads = [threading.Thread(target=first_call, args=(channel,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert front.admissions("cora") == 1


def test_an_admitted_session_outlives_its_token_until_forgotten(front: Front) -> None:
    session_id = str(uuid.uuid4())
    with remote(front.url(front.token("dave", lifetime=30), session_id=session_id)) as spark:
        spark.sql("SELECT 7 AS n").createOrReplaceTempView("daves_view")
        front.clock.advance(600)  # the token expired long ago; re-admission is due too
        assert spark.table("daves_view").collect()[0]["n"] == 7
        assert front.admissions("dave") == 2
        front.front.forget("dave")
        with pytest.raises(SparkConnectGrpcException, match="token expired at") as caught:
            spark.table("daves_view").collect()
        assert caught.value.getGrpcStatusCode() == grpc.StatusCode.UNAUTHENTICATED
    # A fresh token gets the same session back: forgetting it did not end it in Spark.
    with remote(front.url(front.token("dave"), session_id=session_id)) as spark:
        assert spark.table("daves_view").collect()[0]["n"] == 7


# -- what passes through ---------------------------------------------------------------


def test_an_analysis_exception_arrives_as_spark_raised_it(
    front: Front, server: SparkServer
) -> None:
    query = "SELECT no_such_column FROM range(3)"
    raised: list[AnalysisException] = []
    for url in (front.url(front.token("erin")), server.url("erin")):
        with remote(url) as spark, pytest.raises(AnalysisException) as caught:
            spark.sql(query).collect()
        raised.append(caught.value)
    through_front, direct = raised
    assert type(through_front) is type(direct)
    assert (
        through_front.getCondition() == direct.getCondition() == "UNRESOLVED_COLUMN.WITH_SUGGESTION"
    )
    assert through_front.getMessageParameters() == direct.getMessageParameters()
    assert through_front.getSqlState() == direct.getSqlState()
    assert through_front.getMessage() == direct.getMessage()
    assert "no_such_column" in str(through_front)


def test_a_million_rows_come_through_across_reattached_streams(
    front: Front, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sparkstudio.connect_front")
    with remote(front.url(front.token("fay"))) as spark:
        rows: Any = spark.range(1_000_000).toPandas()
    assert len(rows) == 1_000_000
    assert int(rows["id"].sum()) == 999_999 * 1_000_000 // 2
    assert any(
        record.getMessage().startswith("ReattachExecute of fay") for record in caplog.records
    )


def test_interrupt_all_stops_a_running_query(front: Front) -> None:
    with remote(front.url(front.token("gus"))) as spark:
        outcome: list[BaseException] = []

        def long_query() -> None:
            try:
                spark.range(0, 10**13, 1, 1).selectExpr("sum(id)").collect()
            except BaseException as error:
                outcome.append(error)

        runner = threading.Thread(target=long_query)
        runner.start()
        interrupted: list[str] = []
        deadline = time.monotonic() + 60
        while not interrupted and time.monotonic() < deadline:
            time.sleep(0.5)
            interrupted = spark.interruptAll()
        runner.join(60)
        assert interrupted, "the query never showed up as running"
        assert not runner.is_alive()
        assert outcome
        assert "OPERATION_CANCELED" in str(outcome[0]) or "cancel" in str(outcome[0]).lower()


def test_a_cancelled_call_is_cancelled_upstream(front: Front) -> None:
    session_id, operation_id = str(uuid.uuid4()), str(uuid.uuid4())
    metadata = bearer(front.token("hal"))

    def state() -> Any:
        request = base_pb2.GetStatusRequest(session_id=session_id)
        request.operation_status.operation_ids.append(operation_id)
        statuses = call(channel, "GetStatus", request, metadata).operation_statuses
        return statuses[0].state if statuses else None

    with raw_channel(front.port) as channel:
        query = "SELECT sum(id) FROM range(0, 10000000000000, 1, 1)"
        stream = execute(channel, sql_request(session_id, query, operation_id), metadata)
        try:
            deadline = time.monotonic() + 60
            while state() != OperationState.OPERATION_STATE_RUNNING:
                assert time.monotonic() < deadline, "the query never started"
                time.sleep(0.2)
            stream.cancel()
            deadline = time.monotonic() + 60
            while state() == OperationState.OPERATION_STATE_RUNNING:
                assert time.monotonic() < deadline, "the query kept running upstream"
                time.sleep(0.2)
            assert state() in {
                OperationState.OPERATION_STATE_TERMINATING,
                OperationState.OPERATION_STATE_FAILED,
                OperationState.OPERATION_STATE_CANCELLED,
            }
        finally:  # never leave the single core busy for the next tests
            interrupt = base_pb2.InterruptRequest(
                session_id=session_id, interrupt_type=base_pb2.InterruptRequest.INTERRUPT_TYPE_ALL
            )
            call(channel, "Interrupt", interrupt, metadata)


def test_artifacts_stream_through_and_stay_in_their_session(front: Front) -> None:
    shared = str(uuid.uuid4())
    blob = secrets.token_bytes(200 * 1024)  # several 32 KiB chunks in one AddArtifacts stream
    with remote(front.url(front.token("ida"), session_id=shared)) as ida:
        digest = ida.client.cache_artifact(blob)
        assert ida.client._artifact_manager.is_cached_artifact(digest)
        with remote(front.url(front.token("ike"), session_id=shared)) as ike:
            assert not ike.client._artifact_manager.is_cached_artifact(digest)


def test_an_artifact_stream_may_not_switch_sessions(front: Front) -> None:
    def batch(session_id: str, name: str) -> bytes:
        request = base_pb2.AddArtifactsRequest(session_id=session_id)
        artifact = request.batch.artifacts.add(name=f"cache/{name}")
        artifact.data.data = b"x"
        artifact.data.crc = 2363233923  # zlib.crc32(b"x")
        data: bytes = request.SerializeToString()
        return data

    stream = iter([batch(str(uuid.uuid4()), "a"), batch(str(uuid.uuid4()), "b")])
    with raw_channel(front.port) as channel:
        add = channel.stream_unary(f"/{SERVICE.full_name}/AddArtifacts")
        error = refusal(lambda: add(stream, metadata=bearer(front.token("jan")), timeout=60))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "one AddArtifacts stream must stay in one session"


def test_a_request_without_user_context_lands_in_the_subjects_session(front: Front) -> None:
    session_id = str(uuid.uuid4())
    request = base_pb2.ConfigRequest(session_id=session_id)
    pair = request.operation.set.pairs.add(key="spark.sql.shuffle.partitions", value="7")
    assert pair.value == "7" and not request.HasField("user_context")
    with raw_channel(front.port) as channel:
        call(channel, "Config", request, bearer(front.token("kim")))
    with remote(front.url(front.token("kim"), session_id=session_id)) as spark:
        assert spark.conf.get("spark.sql.shuffle.partitions") == "7"


def test_a_cloned_session_keeps_its_subject(front: Front) -> None:
    with remote(front.url(front.token("lea"))) as spark:
        spark.sql("SELECT 3 AS n").createOrReplaceTempView("leas_view")
        clone = spark.cloneSession()
        try:
            assert clone.table("leas_view").collect()[0]["n"] == 3
        finally:
            clone.stop()


def test_the_client_never_sees_the_upstream_token(
    front: Front, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sparkstudio.connect_front")
    secret = front.server.token.encode()
    client_token = front.token("max")
    seen: list[bytes] = []
    with raw_channel(front.port) as channel:
        session_id = str(uuid.uuid4())
        stub = channel.unary_unary(f"/{SERVICE.full_name}/Config")
        response, outcome = stub.with_call(
            config_get_all(session_id).SerializeToString(), metadata=bearer(client_token)
        )
        seen += [response, repr(outcome.initial_metadata()).encode()]
        seen.append(repr(outcome.trailing_metadata()).encode())
        stream = channel.unary_stream(f"/{SERVICE.full_name}/ExecutePlan")
        responses = stream(
            sql_request(session_id, "SELECT * FROM no_such_table").SerializeToString(),
            metadata=bearer(client_token),
        )
        error = refusal(lambda: list(responses))
        seen += [error.details().encode(), repr(error.trailing_metadata()).encode()]
        seen.append(repr(error.initial_metadata()).encode())
    assert b"spark.connect" in response  # the full configuration came back...
    assert all(secret not in item for item in seen)  # ...without the server's token
    assert secret.decode() not in repr(front.server.upstream)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Config of max" in logged
    assert secret.decode() not in logged and client_token not in logged
