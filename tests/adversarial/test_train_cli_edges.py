"""Hostile values at the edges of ``nb201-flat train``: each is one ``error:`` line and exit
code 2 before any run starts, never a traceback, a silent no-op or a run that fails late; and a
refused command leaves the results database as it was (tiny CPU networks, no GPU needed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_helpers import write_tiny_cifar10

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError
from nb201_flat.space import NB201, NB201_OPS, Space
from nb201_flat.train.campaign import ball, plan_campaign, sample
from nb201_flat.train.executors import DaskExecutor, LocalExecutor
from nb201_flat.train.jobs import make_jobs

HUGE = "99999999999999999999"  # past int64: SQLite refuses it


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_cifar10(tmp_path_factory.mktemp("edges") / "data")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _base(root: Path, db: Path, *extra: str) -> list[str]:
    """The train command on ``root`` into ``db`` with ``extra``, whose options replace the
    defaults here (the command refuses an option given twice)."""
    default = {"--dataset": "cifar10", "--data-root": str(root), "--db": str(db),
               "--device": "cpu", "--C": "2", "--N": "1", "--epochs": "1",
               "--executor": "inline"}  # fmt: skip
    kept = [w for option, value in default.items() if option not in extra for w in (option, value)]
    return ["train", *kept, *extra]


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; assert exit 2 with exactly one ``error:`` line; return that line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _cuda_device_missing_here() -> str:
    import torch

    return "cuda:99" if torch.cuda.is_available() else "cuda"


REFUSED = [
    (["11472", "--epochs", HUGE], "--epochs must be <="),
    (["11472", "--seeds", HUGE], "--seeds must lie in 0.."),
    (["11472", "--seeds=-1"], "--seeds must lie in 0.."),
    (["11472", "--seeds", "1", "1"], "--seeds repeats 1"),
    (["11472", "--radius", "1"], "--radius applies only with --neighbours-of"),
    (["--neighbours-of", "11472", "--radius", HUGE], "--radius must lie in 0..6"),
    (["--sample", "1", "--sample-seed=-1"], "--sample-seed must be >= 0"),
    # sample()'s own n: train's --N is the cells per stage, not the sample size
    (["--sample", "16000", "--sample-seed", "1"], "--sample must be in 1..15625, got 16000"),
    (["--sample", "0", "--sample-seed", "1"], "--sample must be in 1..15625, got 0"),
    # plan_campaign's sample_n / sample_seed, named by the command's flags
    (["--sample", "3"], "--sample needs --sample-seed (the sample is drawn from it)"),
    (["11472", "--sample-seed", "3"], "--sample-seed applies only with --sample"),
    ([], "no cells selected: give ARCH, --neighbours-of or --sample"),
    # a disconnected cell is recorded without building a network: the op set is checked first
    (["0", "--ops", "none", "skip_connect", "conv_9x9"], "unknown op(s) 'conv_9x9'"),
    (["0", "--ops", "none", "none", "skip_connect"], "--ops repeats 'none'"),
    (["0", "--ops", "none"], "--ops needs at least two ops, got 'none'"),
    # an empty op is quoted: it showed as nothing at all ("got ; add another op")
    (["0", "--ops", ""], "--ops needs at least two ops, got ''; add another op"),
    (["0", "--nodes", "0"], "--nodes must lie in 2..7"),
    (["0", "--nodes", "100"], "--nodes must lie in 2..7"),
    (["0", "--nodes", HUGE], "--nodes must lie in 2..7"),
    (["11472", "--jobs-per-device", "4"], "--jobs-per-device applies only to --executor local"),
    (["11472", "--group-seeds", "2"], "--group-seeds 2 groups the seeds of each cell, but"),
    (["11472", "--progress", "--executor", "local"], "--progress shows a bar only"),
    (["11472", "--device", "mps"], "--device mps"),
    # faithful mode never compiles: either flag would seem to choose something
    (["11472", "--no-compile"], "faithful mode takes no --no-compile ("),
    (["11472", "--compile"], "faithful mode takes no --compile ("),
    (["11472", "--eval-every", "0"], "--eval-every must be >= 1"),
    # longer than the schedule: only the last epoch is evaluated, as it is anyway
    (
        ["11472", "--eval-every", "2"],
        "error: --eval-every 2 is longer than the schedule (--epochs 1), whose last epoch is "
        "always evaluated; give --eval-every 1 to evaluate the last epoch only, or leave it out",
    ),
    # torch starts every thread: 2**63 failed each run late (an overflow), exit code 1
    (["11472", "--threads", HUGE], "--threads must lie in 1..4096, got " + HUGE),
    (["11472", "--threads", "4097"], "--threads must lie in 1..4096, got 4097"),
    # '' fell back to <db>.ckpt unsaid
    (["11472", "--ckpt-dir", ""], "--ckpt-dir is empty; give a path such as runs/ckpt"),
    # fast mode compiles only on CUDA: on a CPU either flag would change only the results key
    (["11472", "--mode", "fast", "--no-compile"], "--no-compile applies only on CUDA"),
    (["11472", "--mode", "fast", "--compile"], "--compile applies only on CUDA"),
]
SEP_CELL = "|nor_conv_3x3~0|+|sep_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
NEEDS_NO_DATA = [
    *REFUSED,
    (["11472", "--split-dir", "."], "--split-dir applies only"),
    # '' read as the current folder, and the refusal named it as a double space
    (
        ["11472", "--dataset", "cifar10-valid", "--split-dir", ""],
        "error: --split-dir is empty; give the folder holding cifar-split.txt, or drop --split-dir",
    ),
    (["11472", "--executor", "bogus"], "unknown executor 'bogus'"),
    ([SEP_CELL], "--ops / --nodes"),
]


@pytest.mark.parametrize(("extra", "want"), REFUSED, ids=[" ".join(c[0]) for c in REFUSED])
def test_refused_in_one_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], want: str
) -> None:
    import torch

    if "mps" in extra and torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    db = tmp_path / "r.sqlite"
    line = _refused(_base(root, db, *extra), capsys)
    assert want in line, line
    assert not db.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("extra", "want"), NEEDS_NO_DATA, ids=[" ".join(c[0]) for c in NEEDS_NO_DATA]
)
def test_what_needs_no_data_is_refused_before_the_data_is_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], want: str
) -> None:
    # with no dataset at --data-root the first error is still the option's own, not a
    # missing dataset folder the user would fix only to meet the real error next
    import torch

    if "mps" in extra and torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    empty = tmp_path / "empty"
    empty.mkdir()
    for data_root in (empty, tmp_path / "absent"):
        line = _refused(_base(data_root, tmp_path / "r.sqlite", *extra), capsys)
        assert want in line, line


def test_a_job_refuses_a_thread_count_torch_cannot_start(root: Path, tmp_path: Path) -> None:
    kw = {"dataset": "cifar10", "epochs": 1, "seeds": [1], "data_root": root,
          "db_path": tmp_path / "r.sqlite", "c": 2, "n": 1, "device": "cpu"}  # fmt: skip
    for threads in (0, 4097, int(HUGE)):
        with pytest.raises(ArgumentError, match=r"threads must lie in 1\.\.4096"):
            make_jobs([11472], threads=threads, **kw)
    assert make_jobs([11472], threads=4096, **kw)[0].threads == 4096
    two = make_jobs([11472], threads=2.0, **kw)[0].threads  # type: ignore[arg-type]
    assert two == 2 and type(two) is int  # stored as checked: torch takes no float count


def test_empty_db_is_refused_before_any_folder_is_made(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # --db '' made ./.ckpt and its lock, then every run failed to open '.' (exit code 1)
    monkeypatch.chdir(tmp_path)
    line = _refused(_base(root, tmp_path / "r.sqlite", "11472", "--db", ""), capsys)
    assert line == "error: --db is empty; give a path such as runs/results.sqlite"
    assert list(tmp_path.iterdir()) == []


def test_missing_cuda_device_refused_before_any_run(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = _cuda_device_missing_here()
    line = _refused(_base(root, tmp_path / "r.sqlite", "11472", "--device", device), capsys)
    assert f"--device {device}" in line and "use" in line


def test_data_and_split_problems_refused_up_front(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.sqlite"
    base = _base(root, db)
    # cifar10 has no split file: --split-dir would be ignored
    line = _refused([*base, "11472", "--split-dir", str(tmp_path)], capsys)
    assert "--split-dir applies only" in line
    # an explicit folder without the file would silently fall back to another split
    valid = _base(root, db, "11472", "--dataset", "cifar10-valid")
    line = _refused([*valid, "--split-dir", str(tmp_path / "nope")], capsys)
    assert "has no cifar-split.txt" in line
    (tmp_path / "cifar-split.txt").write_text("{bad")
    assert "neither JSON" in _refused([*valid, "--split-dir", str(tmp_path)], capsys)
    # a dataset folder missing one file: every run would fail the same way
    broken = write_tiny_cifar10(tmp_path / "broken")
    (broken / "cifar-10-batches-py" / "data_batch_3").unlink()
    argv = _base(broken, db, "11472")
    assert "missing file" in _refused(argv, capsys) and not db.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    # the way to the data as a shell line, not a Python call in a command's message
    assert _refused(_base(empty, db, "11472"), capsys) == (
        f"error: dataset folder {empty}/cifar-10-batches-py not found; download it with "
        f"python -c \"from nb201_flat.train.data import download; download('cifar10', '{empty}')\""
    )
    odd = tmp_path / "it's $HOME"  # a path the shell would read otherwise: quoted whole
    odd.mkdir()
    line = _refused(_base(odd, db, "11472"), capsys)
    import shlex

    code = shlex.split(line.partition("download it with ")[2])
    assert code[:2] == ["python", "-c"]
    assert (
        code[2] == f"from nb201_flat.train.data import download; download('cifar10', {str(odd)!r})"
    )


def test_unwritable_db_and_ckpt_refused_up_front(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.write_text("a file, not a folder")  # unwritable beneath, even for root
    line = _refused(_base(root, plain / "r.sqlite", "11472"), capsys)
    assert line.startswith("error: --db: cannot create folder")
    argv = _base(root, tmp_path / "r.sqlite", "11472", "--ckpt-dir", str(plain / "ck"))
    assert _refused(argv, capsys).startswith("error: --ckpt-dir: cannot create folder")
    assert plain.read_text() == "a file, not a folder"


def test_slurm_without_slurm_refused_up_front(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no srun: submitit would run it locally
    db = tmp_path / "r.sqlite"
    line = _refused(_base(root, db, "11472", "--executor", "slurm"), capsys)
    assert "Slurm is not available here" in line and "--executor local" in line
    assert not db.exists() and not (tmp_path / "submitit").exists()


def test_a_db_that_is_no_database_names_the_flag(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "notes.txt is not a results database" did not say which option gave it
    db = tmp_path / "notes.txt"
    db.write_text("hello\n")
    line = _refused(_base(root, db, "11472"), capsys)
    assert line.startswith(f"error: --db: {db} is not a results database (")
    assert db.read_text() == "hello\n"


@pytest.mark.parametrize("db", ["folder", os.devnull])
def test_a_db_that_is_no_regular_file_refused_up_front(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    path = tmp_path if db == "folder" else Path(db)
    line = _refused(_base(root, path, "11472"), capsys)
    assert line == f"error: --db {path} exists but is not a regular file; choose another path"


def test_refusals_leave_the_results_db_untouched(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.sqlite"
    base = _base(root, db)
    assert main([*base, "11472"]) == 0
    capsys.readouterr()
    before = db.read_bytes()
    ckpt = sorted(p.name for p in (tmp_path / "r.sqlite.ckpt").iterdir())
    for extra in (["--seeds", "1", "1"], ["--radius", "1"], ["--nodes", "0"]):
        _refused([*base, "11472", *extra], capsys)
    assert db.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "r.sqlite.ckpt").iterdir()) == ckpt


def test_campaign_library_edges() -> None:
    # the library names its parameters (the command line's flags: REFUSED above)
    with pytest.raises(ArgumentError, match="^radius must lie in 0..6"):
        ball(NB201, 0, 7)  # past the edge count: the whole space, silently
    with pytest.raises(ArgumentError, match="^seed must be >= 0"):
        sample(NB201, 2, -1)
    with pytest.raises(
        ArgumentError,
        match="^radius applies only with neighbours_of; add neighbours_of=ARCH$",
    ):
        plan_campaign(NB201, archs=[1], radius=1)
    with pytest.raises(ArgumentError, match="^sample_seed applies only with sample_n$"):
        plan_campaign(NB201, archs=[1], sample_seed=1)
    with pytest.raises(ArgumentError, match="^sample_n needs sample_seed "):
        plan_campaign(NB201, sample_n=1)
    with pytest.raises(ArgumentError, match="give archs, neighbours_of or sample_n$"):
        plan_campaign(NB201)
    assert (
        plan_campaign(NB201, neighbours_of=0).cells
        == plan_campaign(NB201, neighbours_of=0, radius=1).cells
    )


def test_campaign_in_a_huge_space_needs_no_whole_space_array() -> None:
    space = Space(NB201_OPS, 7)  # 5**21 cells: a whole-space array would not fit in memory
    top = space.size - 1  # every edge avg_pool_3x3: connected; index 0 (all none) is not
    plan = plan_campaign(space, archs=[0, top])
    assert (plan.cells, plan.constant_output) == ((top,), (0,))
    drawn = plan_campaign(space, sample_n=3, sample_seed=1, train_disconnected=True)
    assert len(drawn.cells) == 3


def test_local_slots_capped_and_spread_over_devices() -> None:
    ex = LocalExecutor(devices=["cuda:0", "cuda:1"], jobs_per_device=int(HUGE))
    # two units on two GPUs: the pool starts two workers, which take the first two slots
    assert ex._slots(2) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert ex._slots(1) == ["cuda:0", "cuda:1"]


def test_unreachable_dask_scheduler_is_one_error(tmp_path: Path, root: Path) -> None:
    pytest.importorskip("distributed")
    import dask

    jobs = make_jobs([11472], dataset="cifar10", epochs=1, seeds=[1], data_root=root,
                     db_path=tmp_path / "r.sqlite", c=2, n=1, device="cpu")  # fmt: skip
    quick = dask.config.set({"distributed.comm.timeouts.connect": "1s"})
    with quick, pytest.raises(ArgumentError, match="cannot reach the dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9").map(jobs)


@pytest.mark.parametrize("spec", ["dask://", "dask://h", "dask://h:abc", "dask://:8786"])
def test_malformed_dask_address_is_one_error(
    spec: str, root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dask's own parse raised a bare ValueError: a traceback, exit code 1; then a line quoting
    # tcp://, which the user never typed
    db = tmp_path / "r.sqlite"
    line = _refused(_base(root, db, "11472", "--executor", spec), capsys)
    assert line == (
        f"error: executor {spec!r} names no scheduler host and port number; use dask://HOST:PORT, "
        "such as dask://localhost:8786"
    ), line
    assert not db.exists()


@pytest.mark.parametrize("port", ["0", "99999"])
def test_a_dask_port_outside_the_range_is_one_error(
    port: str, root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was taken, and the command waited 30 s to say it could not connect
    db = tmp_path / "r.sqlite"
    spec = f"dask://localhost:{port}"
    line = _refused(_base(root, db, "11472", "--executor", spec), capsys)
    assert line.startswith(f"error: executor {spec!r} names port {port}, outside 1..65535; ")
    assert not db.exists()


def test_a_malformed_address_given_to_the_library_is_one_error() -> None:
    # DaskExecutor used directly: dask's ValueError for an address without a port, one line
    pytest.importorskip("distributed")
    with pytest.raises(ArgumentError) as info:
        DaskExecutor("tcp://").connect()
    said = str(info.value)
    assert said.startswith("tcp:// is not a dask scheduler address (") and "\n" not in said
    assert said.endswith(
        "correct address to a host and a port number, such as tcp://localhost:8786"
    )


@pytest.mark.usefixtures("cap_alone")
def test_network_too_big_for_host_memory_refused(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.budget import ENV_MAX_MEMORY

    monkeypatch.setenv(ENV_MAX_MEMORY, "20M")  # C=64: ~32 MB of weights, gradients, momentum
    db = tmp_path / "r.sqlite"
    line = _refused(_base(root, db, "11472", "--C", "64"), capsys)
    assert "--C 64 --N 1 on the CPU needs about" in line and "smaller --C/--N" in line
    # the network's size needs no data: refused before the data is looked for
    line = _refused(_base(tmp_path / "absent", db, "11472", "--C", "64"), capsys)
    assert "--C 64 --N 1 on the CPU needs about" in line
    assert not db.exists()
    assert main(_base(root, db, "11472", "--C", "4")) == 0  # a small one still trains


def test_foreign_sqlite_db_refused_and_untouched(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    # clashing with a results table, not clashing, a "meta" of another shape, in WAL mode
    for table in ("runs (a, b)", "mine (a, b)", "meta (a, b)", "wal (a, b)"):
        db = tmp_path / f"{table.split()[0]}.sqlite"
        conn = sqlite3.connect(db)
        if table.startswith("wal"):
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"CREATE TABLE {table}")
        conn.commit()
        conn.close()
        before = sorted(p.name for p in tmp_path.iterdir()), db.read_bytes()
        line = _refused(_base(root, db, "11472"), capsys)
        assert "is an SQLite database of something else" in line, line
        # not switched to WAL, no tables added, no -wal/-shm file left beside it
        assert (sorted(p.name for p in tmp_path.iterdir()), db.read_bytes()) == before
    empty = tmp_path / "empty.sqlite"
    empty.touch()  # an empty file is a new database
    assert main(_base(root, empty, "11472")) == 0


def test_cell_of_another_space_names_the_space_options(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(_base(root, tmp_path / "r.sqlite", SEP_CELL), capsys)
    assert "unknown op 'sep_conv_3x3'" in line and "--ops / --nodes" in line


def test_an_unknown_executor_leaves_no_folders(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    line = _refused(_base(root, out / "r.sqlite", "11472", "--executor", "bogus"), capsys)
    assert "unknown executor 'bogus'" in line
    assert not out.exists()  # neither the --db folder nor its checkpoint folder
