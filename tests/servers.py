"""Real servers on 127.0.0.1 for the sharing tests: SeaweedFS (S3), OpenSSH's sshd, PostgreSQL, `mlflow server`.

Each is a context manager that starts the server on free ports under a temp folder, waits until it answers and
stops it (SIGTERM, then SIGKILL) on exit, printing its log when it failed to come up.
"""
from __future__ import annotations

import contextlib
import getpass
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WEED = shutil.which("weed", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
SSHD = "/usr/sbin/sshd"
# PostgreSQL's server binaries: on PATH, or where Debian's postgresql-NN package puts them (newest version)
POSTGRES_BIN = (Path(shutil.which("postgres")).resolve().parent if shutil.which("postgres") else
                next((Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
                      if Path(d, "postgres").is_file()), None))
S3_ACCESS_KEY, S3_SECRET_KEY = "langcpt-test", "langcpt-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, proc: subprocess.Popen, log: Path, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if check():
                return
        except Exception:  # not up yet  # noqa: BLE001
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {timeout} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)


@contextlib.contextmanager
def running(cmd: list[str], log: Path, env: dict | None = None, user: str | None = None):
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent,
                                start_new_session=True, user=user, group=user and pwd.getpwnam(user).pw_gid)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):  # the server and its workers: the session started above
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def seaweedfs(root: Path, bucket: str = "langcpt"):
    """`weed server -s3` with one access key; yields {endpoint, bucket, env} (env: the AWS_* variables)."""
    import boto3

    root.mkdir(parents=True, exist_ok=True)
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "langcpt", "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    p = {name: free_port() for name in ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc",
                                         "s3", "s3_grpc")}
    cmd = [WEED, f"-logdir={root}", "server", f"-dir={root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}", "-master.volumeSizeLimitMB=1024",
           f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
           "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
           "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", f"-s3.config={config}",
           "-s3.port.iceberg=0", "-s3.port.lance=0",
           f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}"]
    endpoint = f"http://127.0.0.1:{p['s3']}"
    env = {"AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
           "AWS_DEFAULT_REGION": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY,
                          aws_secret_access_key=S3_SECRET_KEY, region_name="us-east-1")
    log = root / "weed.log"
    try:
        with running(cmd, log) as proc:
            def bucket_made():
                client.create_bucket(Bucket=bucket)
                return True

            wait_until(bucket_made, "weed server -s3", proc, log)
            yield {"endpoint": endpoint, "bucket": bucket, "env": env, "client": client}
    finally:  # the gRPC sockets weed always makes in /tmp, named by our ports
        for port in p.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


@contextlib.contextmanager
def sshd(root: Path):
    """OpenSSH's sshd as the current user with its own host key and an ed25519 client key (no passphrase).

    Yields {host, port, user, key, known_hosts}: known_hosts holds the host key line for [127.0.0.1]:port."""
    root.mkdir(parents=True, exist_ok=True)
    host_key, client_key = root / "ssh_host_ed25519_key", root / "id_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (root / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text()}")
    config = root / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {root / 'sshd.pid'}",
        f"AuthorizedKeysFile {root / 'authorized_keys'}", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
        "Subsystem sftp internal-sftp", ""]))
    if os.getuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder (root only)
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"sshd -t rejected {config}:\n{check.stderr}")
    log = root / "sshd.log"
    with running([SSHD, "-D", "-e", "-f", str(config)], log) as proc:
        def banner():
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                return s.recv(64).startswith(b"SSH-")

        wait_until(banner, "sshd", proc, log)
        yield {"host": "127.0.0.1", "port": port, "user": getpass.getuser(), "key": client_key,
               "known_hosts": root / "known_hosts"}


@contextlib.contextmanager
def postgresql(database: str = "mlflow"):
    """A PostgreSQL server of its own (initdb in a temp folder, password login, TCP on 127.0.0.1 only, no Unix
    socket outside that folder) with an empty `database`; yields {uri, dsn}: uri = postgresql://user:pw@host:port/db.

    PostgreSQL refuses to run as root: as root it runs as the `postgres` user (Debian's package makes it), in a
    folder of its own under the system temp folder (pytest's basetemp is private to root)."""
    import psycopg

    user = "postgres" if os.getuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="langcpt-pg-"))
    try:
        if user:
            shutil.chown(root, user, user)
        password = "langcpt-test-" + os.urandom(6).hex()
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if user:
            shutil.chown(pwfile, user, user)
        data = root / "data"
        init = subprocess.run([str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "langcpt", "--auth=scram-sha-256",
                               f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale"], capture_output=True, text=True,
                              user=user, group=user and pwd.getpwnam(user).pw_gid)
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        port = free_port()
        log = root / "postgres.log"
        dsn = dict(host="127.0.0.1", port=port, user="langcpt", password=password, connect_timeout=2)
        cmd = [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
               "-k", str(root), "-c", "fsync=off"]
        with running(cmd, log, user=user) as proc:
            def create_database():
                # autocommit: CREATE DATABASE cannot run inside a transaction
                with psycopg.connect(dbname="postgres", autocommit=True, **dsn) as conn:
                    conn.execute(f'CREATE DATABASE "{database}"')
                return True

            wait_until(create_database, "postgres", proc, log)
            yield {"uri": f"postgresql://langcpt:{password}@127.0.0.1:{port}/{database}",
                   "dsn": {**dsn, "dbname": database}}
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(root: Path, artifacts: str, env: dict, backend_store_uri: str | None = None):
    """`mlflow server` on a sqlite store (or `backend_store_uri`, e.g. postgresql://...) with its artifact store at
    `artifacts` (e.g. s3://bucket/mlflow).

    env: extra variables of the server process (S3 endpoint and keys); clients only need the tracking URI."""
    import urllib.request

    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
           backend_store_uri or f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", artifacts,
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = root / "mlflow.log"
    with running(cmd, log, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **env}) as proc:
        uri = f"http://127.0.0.1:{port}"
        wait_until(lambda: urllib.request.urlopen(f"{uri}/health", timeout=2).status == 200, "mlflow server",
                   proc, log, timeout=120)
        yield uri
