"""The benchmark as a Slurm job array and tuning on PostgreSQL, against the real servers (docs/cluster.md).

Each test starts Debian's daemons itself in a temporary folder, on 127.0.0.1 only, and stops them at the end, also
on failure: munged with a temporary key, slurmctld and slurmd with a one-node, 2-CPU slurm.conf; PostgreSQL by
initdb + pg_ctl as an unprivileged user. Where the programs are not installed (the cluster step of .ci/run installs
them: slurm-wlm, munge, postgresql), or cannot run, the test skips in one line saying why.
Marked ``cluster``: left out of the plain suite (pyproject's addopts), run by ``pytest -m cluster``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

SBIN = os.pathsep.join(["/usr/sbin", "/usr/local/sbin", "/sbin"])
# the README's recipe (docs/cluster.md), word for word
CELLS_LIST = "gazsl benchmark list > cells.txt"
ARRAY = ("sbatch --parsable --array=1-$(wc -l < cells.txt) --cpus-per-task=2 "
         "--wrap 'eval \"exec $(sed -n ${SLURM_ARRAY_TASK_ID}p cells.txt)\"'")
# a short GAZSL training: one checkpoint per iteration, so that a cancelled cell leaves one early
SHORT_GAZSL = {"iterations": 12, "eval_start": 6, "eval_every": 6, "checkpoint_every": 1, "log_every": 6,
               "bf16": "off", "critic_steps": 1, "generator_hidden": 64, "critic_hidden": 64,
               "text_reduced_dim": 32, "samples_per_class": 10, "batch_size": 64, "patience": 0}


def program(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=SBIN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str, step: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_pid_file(path: Path, sig=signal.SIGTERM) -> None:
    try:
        os.kill(int(path.read_text().split()[0]), sig)
    except (OSError, ValueError, IndexError):
        pass


# ---------------------------------------------------------------- Slurm
@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """munged + slurmctld + slurmd on 127.0.0.1 in a temporary folder: the environment that reaches them."""
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel") if program(p) is None]
    if missing:
        pytest.skip(f"Slurm not installed ({', '.join(missing)} missing; apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        pytest.skip("slurmd must run as root to start jobs, and this test is not root")
    root = tmp_path_factory.mktemp("slurm")
    root.chmod(0o711)  # munged's socket inside must be reachable by the job's processes
    (root / "state").mkdir()
    (root / "spool").mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(f"""ClusterName=gazsltest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.sock
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=30
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", ""), SBIN])
    try:
        started = [
            subprocess.run([program("munged"), f"--key-file={key}", f"--socket={root}/munge.sock", "--force",
                            f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                            f"--seed-file={root}/munged.seed"], env=env, capture_output=True, text=True),
            subprocess.run([program("slurmctld"), "-i"], env=env, capture_output=True, text=True),
            subprocess.run([program("slurmd")], env=env, capture_output=True, text=True)]
        failed = [r for r in started if r.returncode != 0]
        if failed:
            pytest.skip(f"Slurm could not start here: {' '.join(failed[0].args[:1])}: "
                        f"{(failed[0].stderr or failed[0].stdout).strip().splitlines()[-1:]}")
        try:
            wait_until(lambda: subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                              text=True).stdout.strip() == "idle", 60, "the Slurm node to be idle")
        except AssertionError:
            pytest.skip(f"Slurm started but its node never came up (see {root}/slurmd.log)")
        yield env
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        for pid_file in ("slurmd.pid", "slurmctld.pid", "munged.pid"):
            stop_pid_file(root / pid_file)
        time.sleep(1)


def array_done(env, job: str) -> bool:
    return subprocess.run(["squeue", "-h", "-j", job], env=env, capture_output=True, text=True).stdout.strip() == ""


def sh(command: str, cwd: Path, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert not check or done.returncode == 0, f"{command}: {done.stderr}"
    return done


def benchmark_project(path: Path) -> Path:
    """A user's project folder: the design at experiments/benchmark.json (a small one on the aviary)."""
    design = json.loads((Path(__file__).parent.parent / "experiments" / "benchmark.json").read_text())
    design.update(protocols={"aviary_scs": {"store": "aviary", "text": "tfidf", "rule": "random", "folds": 2,
                                            "repeats": 1, "seed": 0}},
                  validation_folds=2, seeds=1, baselines=["prototype"], trainings={"gazsl": SHORT_GAZSL},
                  classifiers=["pivot", "pivot+regression"])
    (path / "experiments").mkdir(parents=True)
    (path / "experiments" / "benchmark.json").write_text(json.dumps(design))
    return path


def cell_rows(results: Path) -> dict:
    return {json.dumps(c["cell"], sort_keys=True): c["rows"] for c in json.loads(results.read_text())["cells"]}


def test_slurm_array_cancel_resubmit_matches_local_cells(slurm, tmp_path):
    env = {**slurm, "GAZSL_FEATURES": str(tmp_path / "features"), "PYTHONUNBUFFERED": "1"}
    cluster = benchmark_project(tmp_path / "cluster")
    local = benchmark_project(tmp_path / "local")
    sh("python -c 'from gazsl.datasets.aviary_world import ensure_aviary; ensure_aviary()'", cluster, env)

    sh(CELLS_LIST, cluster, env)
    cells = (cluster / "cells.txt").read_text().splitlines()
    assert len(cells) == 4 and cells[0].startswith("gazsl benchmark cell ") and "--method gazsl" in cells[0]
    job = sh(ARRAY, cluster, env).stdout.strip().split(";")[0]

    # preempt the first GAZSL cell (task 1) once it has checkpointed: plain scancel, SIGTERM then KillWait
    run = cluster / "runs" / "benchmark" / "aviary_scs" / "r0f0" / "gazsl" / "seed0" / "run"
    wait_until(lambda: list(run.glob("checkpoint_*.pt")), 600, "the first GAZSL cell's checkpoint")
    sh(f"scancel {job}_1", cluster, env)
    wait_until(lambda: array_done(env, job), 900, f"job array {job}")
    stopped = (cluster / f"slurm-{job}_1.out").read_text()
    assert "interrupted at iteration" in stopped and "resume with:" in stopped, stopped
    checkpoints = sorted(p.name for p in run.glob("checkpoint_*.pt"))
    assert checkpoints and not (run / "metrics.json").exists()

    missing = sh("gazsl benchmark table", cluster, env, check=False)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr
    assert "1 of 4 benchmark cells are missing" in missing.stderr
    assert missing.stdout.splitlines() == [cells[0]]  # the unfinished cell, in one line: its command

    finished = {p: p.stat().st_mtime_ns for p in (cluster / "runs").rglob("cell.json")}
    assert len(finished) == 3
    job2 = sh(ARRAY, cluster, env).stdout.strip().split(";")[0]  # the same array again
    wait_until(lambda: array_done(env, job2), 900, f"job array {job2}")
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished cells reused, not run again
    sh("gazsl benchmark table", cluster, env)

    # the same cells, run here one after another, uninterrupted
    sh(CELLS_LIST, local, env)
    assert (local / "cells.txt").read_text().splitlines() == cells
    sh("while read -r cell; do eval \"$cell\"; done < cells.txt && gazsl benchmark table", local, env)
    cluster_rows = cell_rows(cluster / "experiments" / "results" / "benchmark.json")
    assert cluster_rows == cell_rows(local / "experiments" / "results" / "benchmark.json")
    assert len(cluster_rows) == 4


# ---------------------------------------------------------------- PostgreSQL
def postgres_program(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1 in a temporary folder, run as an unprivileged user: its database URL."""
    missing = [p for p in ("initdb", "pg_ctl", "createdb") if postgres_program(p) is None]
    if missing:
        pytest.skip(f"PostgreSQL not installed ({', '.join(missing)} missing; apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'gazsl[tune]')")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="gazsl-pg-"))  # not under pytest's root-only folder: the server user reads it
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    port = free_port()
    data = root / "data"

    def run(*command):
        return subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)

    try:
        init = run(postgres_program("initdb"), "-D", str(data), "-A", "trust", "-U", "gazsl", "--no-sync")
        if init.returncode != 0:
            pytest.skip(f"initdb failed here: {(init.stderr or init.stdout).strip().splitlines()[-1:]}")
        started = run(postgres_program("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "120",
                      "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        if started.returncode != 0:
            pytest.skip(f"PostgreSQL could not start here: {(started.stderr or started.stdout).strip()[-200:]}")
        made = run(postgres_program("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "gazsl", "tune")
        assert made.returncode == 0, made.stderr
        yield f"postgresql://gazsl@127.0.0.1:{port}/tune"
    finally:
        if data.exists():
            run(postgres_program("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_tune_workers_share_one_postgresql_study(postgres, tmp_path):
    optuna = pytest.importorskip("optuna", reason="Optuna is not installed (pip install 'gazsl[tune]')")
    from test_tune import finish, load, load_quietly, tune_process

    toy = toy_tuning(tmp_path)
    store = toy["store"]

    # two workers, one study: together exactly N trials
    n = 4
    workers = [tune_process(toy, tmp_path, "--trials", n, "--storage", postgres) for _ in range(2)]
    for worker in workers:
        finish(worker)
    trials = load(optuna, postgres).trials
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == n, [(t.number, t.state.name, t.user_attrs) for t in trials]
    assert all(t.user_attrs.get("surplus") for t in trials if t not in done)
    assert len({t.user_attrs["worker"] for t in done}) == 2  # both workers took part
    assert len({tuple(sorted(t.params.items())) for t in done}) == n

    # the best trial as a config that trains
    best = tmp_path / "tuned" / "toy_easy.json"
    out = finish(tune_process(toy, tmp_path, "--trials", n, "--storage", postgres, "--best-config", best))
    assert f"{n} of {n} trials (0 run here" in out
    run = subprocess.run([sys.executable, "-m", "gazsl.train", "--split", "toy_easy", "--store", str(store), "--config",
                          str(best), "--out", str(tmp_path / "run"), "--device", "cpu"], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["zsl_top1"] > 0

    # a worker killed mid-trial: its trial is released and a rerun completes the study. Trials of 200 iterations,
    # long enough to be killed in one, make another study in the same database (a study keeps its settings)
    longer = ["--trials", 2, "--storage", postgres, "--iters", 200, "--study", "killed"]
    worker = tune_process(toy, tmp_path, *longer)
    wait_until(lambda: worker.poll() is not None or [t for t in load_quietly(optuna, postgres, "killed")
                                                     if t.state.name == "RUNNING" and "seed" in t.user_attrs],
               300, "a running trial")
    assert worker.poll() is None, worker.communicate()
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    running = [t.number for t in load(optuna, postgres, "killed").trials if t.state.name == "RUNNING"]
    assert len(running) == 1  # what Optuna leaves behind a SIGKILL
    out = finish(tune_process(toy, tmp_path, *longer))
    trials = load(optuna, postgres, "killed").trials
    killed = trials[running[0]]
    assert killed.state.name == "FAIL" and "fail_reason" not in killed.user_attrs  # released, not counted
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 2 and "2 of 2 trials" in out


def toy_tuning(tmp_path: Path) -> dict:
    """test_tune's toy store, tiny GAZSL config and small search space, in ``tmp_path``."""
    from conftest import make_toy_store
    from test_tune import SPACE, TINY

    store = make_toy_store(tmp_path / "toy.h5")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu",
                                                                     "store": str(store), "overrides": TINY}))
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    return {"store": store, "configs": tmp_path / "configs", "space": tmp_path / "space.json"}


@pytest.mark.parametrize("url, problem", [
    ("postgresql://gazsl@127.0.0.1:{closed}/tune", "unreachable server"),
    ("postgresql://gazsl@127.0.0.1:{port}/no_such_database", "no such database"),
    ("postgresql//127.0.0.1/tune", "not a URL"),
])
def test_a_bad_postgresql_storage_is_one_line_and_exit_2(postgres, tmp_path, url, problem):
    pytest.importorskip("optuna", reason="Optuna is not installed (pip install 'gazsl[tune]')")
    from test_tune import tune_args

    port = postgres.rsplit(":", 1)[1].split("/")[0]
    url = url.format(closed=free_port(), port=port)
    done = subprocess.run([sys.executable, "-m", "gazsl.tune", *tune_args(toy_tuning(tmp_path), tmp_path, "--trials", 1,
                                                                          "--storage", url)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, (problem, done.stderr)
    assert done.stderr.startswith(f"error: --storage {url}: cannot open it") and "Traceback" not in done.stderr
