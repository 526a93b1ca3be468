"""A local single-node Apache Kafka (KRaft, broker + controller) resolved from Maven Central.

`up` resolves the pinned release's jars once into var/kafka/libs, formats the storage once (the
cluster id is kept in var/kafka/cluster.id), starts `kafka.Kafka` in the background and waits until it
answers metadata requests. With HUB_KAFKA_BOOTSTRAP set, nothing is started: that cluster is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hub.errors import KafkaSetupError
from hub.settings import Settings, get_settings

POM = Path(__file__).with_name("kafka_dist") / "pom.xml"
KAFKA_VERSION = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text()).group(1)

# The release's bin/kafka-*.sh scripts, as main classes of the same jars.
TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-features": "org.apache.kafka.tools.FeatureCommand",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-storage": "kafka.tools.StorageTool",
}

SERVER_PROPERTIES = """\
# Written by `hub kafka up` from the hub settings; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=16777216
log.retention.hours=-1
"""

LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
"""

TOOLS_LOG4J2 = LOG4J2.replace("level: INFO\n      AppenderRef", "level: WARN\n      AppenderRef")


@dataclass(frozen=True)
class Layout:
    """Where the local broker keeps everything, under var/kafka."""

    root: Path
    libs: Path  # the resolved jars; may be shared by several hub homes (HUB_KAFKA_LIBS_DIR)

    data = property(lambda self: self.root / "data")
    logs = property(lambda self: self.root / "logs")
    pid_file = property(lambda self: self.root / "kafka.pid")
    cluster_id_file = property(lambda self: self.root / "cluster.id")
    config = property(lambda self: self.root / "server.properties")
    log4j = property(lambda self: self.root / "log4j2.yaml")
    tools_log4j = property(lambda self: self.root / "tools-log4j2.yaml")
    server_log = property(lambda self: self.root / "logs" / "server.log")
    stamp = property(lambda self: self.libs / ".resolved")


def layout(settings: Settings | None = None) -> Layout:
    settings = settings or get_settings()
    return Layout(settings.kafka_dir, settings.kafka_libs_dir or settings.kafka_dir / "libs")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _apt_install(*packages: str) -> None:
    _say(f"installing {' '.join(packages)} with apt-get (running as root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, check=True)


def _java_major() -> int | None:
    java = shutil.which("java")
    if not java:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def ensure_toolchain() -> None:
    """Java >= 17 and Maven, installed with apt-get when root on Debian, else a clear error."""
    missing = []
    if (_java_major() or 0) < 17:
        missing.append(("Java >= 17", "openjdk-17-jre-headless"))
    if not shutil.which("mvn"):
        missing.append(("Maven", "maven"))
    if not missing:
        return
    packages = [pkg for _, pkg in missing]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install(*packages)
        return
    names = " and ".join(name for name, _ in missing)
    raise KafkaSetupError(
        f"{names} needed to run the local Kafka broker: install with `sudo apt-get install {' '.join(packages)}`, "
        "or set HUB_KAFKA_BOOTSTRAP to use an existing cluster"
    )


def resolve(lay: Layout) -> None:
    """Copy the pinned Kafka release's jars from Maven Central into var/kafka/libs (once)."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    if lay.stamp.exists() and lay.stamp.read_text() == digest:
        return
    ensure_toolchain()
    _say(f"resolving Apache Kafka {KAFKA_VERSION} from Maven Central into {lay.libs} (once)")
    staging = lay.libs.with_name(lay.libs.name + ".partial")
    staging.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise KafkaSetupError(
            f"Maven could not resolve Kafka {KAFKA_VERSION}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    shutil.rmtree(lay.libs, ignore_errors=True)
    staging.rename(lay.libs)
    lay.stamp.write_text(digest)


def java_command(
    lay: Layout, main_class: str, *args: str, log4j: Path | None = None, heap: str | None = None
) -> list[str]:
    command = ["java"]
    if heap:
        command += [f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC"]
    command += [f"-Dlog4j2.configurationFile={log4j or lay.tools_log4j}", "-cp", f"{lay.libs}/*", main_class, *args]
    return command


def write_config(lay: Layout, settings: Settings) -> None:
    lay.logs.mkdir(parents=True, exist_ok=True)
    lay.config.write_text(
        SERVER_PROPERTIES.format(
            port=settings.kafka_port, controller_port=settings.kafka_controller_port, data_dir=lay.data
        )
    )
    lay.log4j.write_text(LOG4J2)
    lay.tools_log4j.write_text(TOOLS_LOG4J2)


def format_storage(lay: Layout) -> None:
    """Format KRaft storage once; the cluster id is persisted so restarts keep topics and data."""
    if (lay.data / "meta.properties").exists():
        return
    if not lay.cluster_id_file.exists():
        out = subprocess.run(
            java_command(lay, TOOLS["kafka-storage"], "random-uuid"), capture_output=True, text=True, check=True
        )
        lay.cluster_id_file.write_text(out.stdout.strip().splitlines()[-1])
    cluster_id = lay.cluster_id_file.read_text().strip()
    command = java_command(
        lay, TOOLS["kafka-storage"], "format", "--standalone", "-t", cluster_id, "-c", str(lay.config)
    )
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise KafkaSetupError(f"formatting Kafka storage in {lay.data} failed:\n{result.stdout}{result.stderr}")


def running_pid(lay: Layout) -> int | None:
    """The broker's pid if our pid file names a live Kafka process."""
    try:
        pid = int(lay.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"kafka.Kafka" in cmdline else None


def answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when the cluster answers a metadata request."""
    from kafka import KafkaAdminClient  # kafka-python: `hub` imports this module at start-up
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def up(wait_s: float = 90.0) -> str:
    """Start the local broker (or do nothing if it or an external cluster is there); returns a status line."""
    settings = get_settings()
    if settings.kafka_is_external:
        return f"using the existing Kafka cluster at {settings.kafka_bootstrap} (HUB_KAFKA_BOOTSTRAP); nothing started"
    lay = layout(settings)
    if answers(settings.kafka_bootstrap, timeout_s=2.0):
        if running_pid(lay):
            return f"Kafka {KAFKA_VERSION} already running on {settings.kafka_bootstrap} (pid {running_pid(lay)})"
        return (
            f"a Kafka broker already answers on {settings.kafka_bootstrap} (not started from {lay.root}); "
            "using it — set HUB_KAFKA_PORT to start a separate one"
        )
    lay.root.mkdir(parents=True, exist_ok=True)
    resolve(lay)
    write_config(lay, settings)
    format_storage(lay)
    process = None
    if not running_pid(lay):
        log = open(lay.server_log, "ab")
        process = subprocess.Popen(
            java_command(lay, "kafka.Kafka", str(lay.config), log4j=lay.log4j, heap=settings.kafka_heap),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        lay.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None if process else not running_pid(lay):
            raise KafkaSetupError(
                f"Kafka exited during start-up; last lines of {lay.server_log}:\n{_tail(lay.server_log, 30)}"
            )
        if answers(settings.kafka_bootstrap, timeout_s=2.0):
            return f"Kafka {KAFKA_VERSION} started on {settings.kafka_bootstrap} (pid {running_pid(lay)}); log: {lay.server_log}"
        time.sleep(0.5)
    raise KafkaSetupError(
        f"Kafka did not answer on {settings.kafka_bootstrap} within {wait_s:.0f} s; see {lay.server_log}"
    )


def down(wait_s: float = 60.0) -> str:
    """Stop the local broker cleanly (SIGTERM, then SIGKILL after `wait_s`)."""
    settings = get_settings()
    if settings.kafka_is_external:
        return f"Kafka at {settings.kafka_bootstrap} is external (HUB_KAFKA_BOOTSTRAP): not ours to stop"
    lay = layout(settings)
    pid = running_pid(lay)
    if pid is None:
        lay.pid_file.unlink(missing_ok=True)
        return "Kafka is not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while running_pid(lay) and time.monotonic() < deadline:
        time.sleep(0.2)
    how = "cleanly"
    if running_pid(lay):
        os.kill(pid, signal.SIGKILL)
        how = f"with SIGKILL after {wait_s:.0f} s"
    lay.pid_file.unlink(missing_ok=True)
    return f"Kafka stopped {how} (pid {pid}); data kept in {lay.data}"


def status() -> dict:
    """Running or stopped, version, bootstrap, topics."""
    from hub.kafka_clients import list_topics  # kafka-python: `hub` imports this module at start-up

    settings = get_settings()
    lay = layout(settings)
    external = settings.kafka_is_external
    running = answers(settings.kafka_bootstrap) if (external or running_pid(lay)) else False
    return {
        "state": "running" if running else "stopped",
        "bootstrap": settings.kafka_bootstrap,
        "managed": "external (HUB_KAFKA_BOOTSTRAP)" if external else "local",
        "version": None if external else f"Apache Kafka {KAFKA_VERSION}",
        "pid": None if external else running_pid(lay),
        "log": None if external else str(lay.server_log),
        "topics": list_topics() if running else [],
    }


def tool_command(name: str, args: list[str]) -> list[str]:
    """The java command line of one of Kafka's own CLI tools (as bin/<name>.sh runs it)."""
    name = name.removesuffix(".sh")
    if name not in TOOLS:
        raise KafkaSetupError(f"unknown Kafka tool {name!r}; available: {', '.join(sorted(TOOLS))}")
    lay = layout()
    lay.root.mkdir(parents=True, exist_ok=True)
    resolve(lay)
    write_config(lay, get_settings())
    return java_command(lay, TOOLS[name], *args)
