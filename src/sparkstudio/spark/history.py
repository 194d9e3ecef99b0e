"""The one Spark history server that serves the event logs of every cluster.

Started when first needed, tracked by PID and start time in ``<home>/run/history.json``
(so a restarted control plane re-adopts it) and stopped with the control plane.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from sparkstudio.processes.places import clean_environment
from sparkstudio.spark import processes
from sparkstudio.spark.home import SparkHome, find_spark_home
from sparkstudio.spark.processes import ProcessRecord

HISTORY_CLASS = "org.apache.spark.deploy.history.HistoryServer"
HOST = "127.0.0.1"


class HistoryServer:
    def __init__(self, run_dir: Path, log_dir: Path, spark_home: SparkHome | None = None) -> None:
        self.run_file = run_dir / "history.json"
        self.log_dir = log_dir
        self.logs = run_dir.parent / "logs" / "history-server.log"
        self._spark = spark_home
        self._lock = threading.Lock()

    def _running(self) -> tuple[ProcessRecord, int] | None:
        try:
            data = json.loads(self.run_file.read_text())
            record = ProcessRecord.from_json(data["process"])
            port = int(data["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return (record, port) if processes.is_alive(record) else None

    def url(self) -> str:
        """The history server's address, starting it if it is not running."""
        with self._lock:
            running = self._running()
            if running is None:
                running = self._start()
            return f"http://{HOST}:{running[1]}"

    def _start(self) -> tuple[ProcessRecord, int]:
        spark = self._spark or find_spark_home()
        port = processes.free_port()
        options = {
            "spark.history.fs.logDirectory": self.log_dir.as_uri(),
            "spark.history.ui.port": str(port),
            "spark.history.fs.update.interval": "5s",
            "spark.ui.bindAddress": HOST,  # not on every interface: its pages are proxied
        }
        env = spark.environment(
            SPARK_DAEMON_MEMORY="256m",
            SPARK_HISTORY_OPTS=" ".join(f"-D{key}={value}" for key, value in options.items()),
        )
        env = clean_environment(env, home=str(self.run_file.parent))
        argv = [str(spark.bin("spark-class")), HISTORY_CLASS]
        record = processes.launch("history-server", argv, env, self.logs)
        self.run_file.write_text(json.dumps({"process": record.to_json(), "port": port}))
        return record, port

    def wait_ready(self, timeout: float = 60.0) -> bool:
        running = self._running()
        deadline = time.monotonic() + timeout
        while running is not None and time.monotonic() < deadline:
            if processes.port_open(running[1], HOST):
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        with self._lock:
            running = self._running()
            if running is not None:
                processes.stop(running[0])
            self.run_file.unlink(missing_ok=True)
