"""The ``model`` and ``train`` subcommands, and lazy torch imports."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nb201_flat.cli import main
from nb201_flat.cli.train import register
from nb201_flat.errors import (
    ArgumentError,
    InvalidArchError,
    MissingDependencyError,
    Nb201FlatError,
    ResultsDBError,
)
from nb201_flat.train.data import DatasetNotFoundError

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nb201-flat")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_model_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["model", RESNET, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["index"] == 11472 and out["params_mb"] == pytest.approx(0.559386)
    assert out["flops_m"] == pytest.approx(7.78305 + 2 * 35.38944)  # base + two 3x3 convs
    assert run_cli(["model", "11472", "--dataset", "ImageNet16-120", "--json"]) == 0
    out16 = json.loads(capsys.readouterr().out)
    assert out16["params_mb"] == pytest.approx(0.559386 + 64 * 110 / 1e6 + 110 / 1e6)
    assert out16["input"] == [3, 16, 16]
    assert run_cli(["model", "0"]) == 0
    assert " M params" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--C", "--N"])
def test_model_and_train_refuse_a_network_too_large_to_count(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --C 2**62 printed a 35-digit float of "M params" with exit code 0
    from nb201_flat.train.costs import MAX_C, MAX_N

    huge = str(2**62)
    train = ["train", "1", "--dataset", "cifar10", "--data-root", str(tmp_path), "--db",
             str(tmp_path / "r.sqlite"), "--device", "cpu"]  # fmt: skip
    bound = MAX_C if flag == "--C" else MAX_N
    for argv in (["model", "1", flag, huge], [*train, flag, huge]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"error: {flag} must lie in 1..{bound}, got {huge}; NB201 uses --C 16 --N 5\n"
    assert not (tmp_path / "r.sqlite").exists()
    # the library counts a network without cells; the command takes a cell, so --N 0 would
    # ignore ARCH
    assert main(["model", "1", "--N", "0"]) == 2
    assert capsys.readouterr().err.startswith(f"error: --N must lie in 1..{MAX_N}, got 0; ")
    # the largest network allowed is still counted, as exact integers
    assert main(["model", "1", "--C", str(MAX_C), "--N", str(MAX_N), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params_mb"] > 0


@pytest.mark.parametrize("command", ["model", "train"])
def test_network_flags_state_their_bounds(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the help said "first-stage channels (16)": --C 4097 was refused by a bound it never named
    from nb201_flat.train.costs import MAX_C, MAX_N

    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    parser = argparse.ArgumentParser(prog="nb201-flat")
    register(sub := parser.add_subparsers(dest="command"))
    text = sub.choices[command].format_help()
    assert re.search(rf"^  --C C +first-stage channels, 1\.\.{MAX_C} \(16\)$", text, re.M), text
    assert re.search(rf"^  --N N +cells per stage, 1\.\.{MAX_N} \(5\)$", text, re.M), text


def test_bad_arch_is_a_domain_error() -> None:
    with pytest.raises(InvalidArchError, match="unknown op"):
        run_cli(["model", "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    with pytest.raises(InvalidArchError, match="out of range"):
        run_cli(["model", "99999"])


def test_train_inline_then_skip(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    db = tmp_path / "r.sqlite"
    argv = [
        "train",
        "11472",
        "--dataset",
        "cifar10",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "2",
        "--data-root",
        str(cifar10_root),
        "--db",
        str(db),
        "--device",
        "cpu",
        "--executor",
        "inline",
        "--C",
        "4",
        "--N",
        "1",
        "--json",
    ]
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in out["runs"]] == ["done", "done"]
    assert set(out["runs"][0]["metrics"]) == {"train", "ori-test"}
    assert run_cli(argv[:-1]) == 0
    text = capsys.readouterr().out
    assert text.count(" skipped ") == 2 and "2 run(s) skipped, finished before" in text
    assert {r["mode"] for r in out["runs"]} == {"faithful"}  # the default mode


def test_train_mode_flag(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    base = ["train", "11472", "--dataset", "cifar10", "--epochs", "1", "--data-root",
            str(cifar10_root), "--db", str(tmp_path / "r.sqlite"), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--json"]  # fmt: skip
    assert run_cli([*base, "--mode", "faithful"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["mode"] == "faithful"
    # the same cell in fast mode is a different run: trained, not skipped
    assert run_cli([*base, "--mode", "fast"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert (run["mode"], run["status"]) == ("fast-bf16", "done")
    # the library names its parameters; the command line's one line names its flags
    with pytest.raises(ArgumentError, match="^faithful mode takes no compile=True .*mode='fast'$"):
        run_cli([*base, "--mode", "faithful", "--compile"])
    assert main([*base, "--mode", "faithful", "--compile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: faithful mode takes no --compile (") and err.count("\n") == 1
    assert err.endswith("; drop --compile, or use --mode fast\n") and "compile=" not in err
    # fast mode without compilation (say, where inductor fails) is its own run on CUDA; on a
    # CPU, which fast mode never compiles on, the flag would only change the results key
    with pytest.raises(ArgumentError, match="--no-compile applies only on CUDA"):
        run_cli([*base, "--mode", "fast", "--no-compile"])
    # faithful mode never compiles: --no-compile would seem to choose something, and its run
    # would be stored under the faithful key all the same
    assert main([*base, "--mode", "faithful", "--no-compile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: faithful mode takes no --no-compile (")
    assert err.endswith("; drop --no-compile, or use --mode fast\n")


def test_train_missing_data_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="--data-root"):
        run_cli(
            [
                "train",
                "1",
                "--dataset",
                "cifar10",
                "--data-root",
                str(tmp_path / "x"),
                "--db",
                str(tmp_path / "r.sqlite"),
            ]
        )
    assert issubclass(DatasetNotFoundError, Nb201FlatError)


LAZY = """
import sys
import nb201_flat, nb201_flat.cli.train, nb201_flat.train
import nb201_flat.train.costs, nb201_flat.train.data, nb201_flat.train.jobs
import nb201_flat.train.recipe, nb201_flat.train.results_db, nb201_flat.train.executors
import argparse
p = argparse.ArgumentParser()
nb201_flat.cli.train.register(p.add_subparsers())
assert "torch" not in sys.modules, "torch was imported"
"""

NO_TORCH = """
import sys
sys.modules["torch"] = None  # as if torch were not installed
from nb201_flat.errors import MissingDependencyError
for mod in ("nb201_flat.train.model", "nb201_flat.train.trainer"):
    try:
        __import__(mod)
    except MissingDependencyError as exc:
        assert "nb201-flat[train]" in str(exc), exc
    else:
        raise AssertionError(mod + " imported without torch")
"""


def test_torch_is_imported_lazily() -> None:
    subprocess.run([sys.executable, "-c", LAZY], check=True)


def test_missing_torch_names_the_extra() -> None:
    subprocess.run([sys.executable, "-c", NO_TORCH], check=True)
    assert issubclass(MissingDependencyError, ImportError)


def test_train_group_seeds_and_eval_options(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from nb201_flat.train.results_db import load_curves

    def argv(db: str, *extra: str) -> list[str]:
        return ["train", "11472", "--dataset", "cifar10", "--epochs", "2", "--seeds", "1", "2",
                "--data-root", str(cifar10_root), "--db", str(tmp_path / db), "--device", "cpu",
                "--executor", "inline", "--C", "2", "--N", "1", "--json", *extra]  # fmt: skip

    assert run_cli(argv("sep.sqlite", "--eval-every", "2", "--eval-batch-size", "7")) == 0
    sep = json.loads(capsys.readouterr().out)["runs"]
    assert run_cli(argv("grp.sqlite", "--group-seeds", "2", "--eval-every", "2")) == 0
    grp = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["seed"], r["status"]) for r in grp] == [(1, "done"), (2, "done")]
    for a, b in zip(sep, grp, strict=True):
        assert a["metrics"].keys() == b["metrics"].keys()
        for split, m in a["metrics"].items():
            assert b["metrics"][split]["loss"] == pytest.approx(m["loss"], rel=1e-4)
    # --eval-every 2: epoch 1 has train rows only, epoch 2 (the last) all splits
    curves = load_curves(tmp_path / "grp.sqlite")
    assert set(curves.loc[curves["epoch"] == 1, "split"]) == {"train"}
    assert set(curves.loc[curves["epoch"] == 2, "split"]) == {"train", "ori-test"}
    # fast mode groups as well, under the fast results key (tests/train/test_train_grouped_fast)
    assert run_cli(argv("fast.sqlite", "--group-seeds", "2", "--mode", "fast")) == 0
    fast = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["seed"], r["status"], r["mode"]) for r in fast] == [
        (1, "done", "fast-bf16"),
        (2, "done", "fast-bf16"),
    ]
    assert {r["mode"] for r in grp} == {"faithful"}
    for bad in (["--group-seeds", "0"], ["--eval-every", "0"], ["--eval-batch-size", "0"]):
        # the library's checks name parameters; the command's one line names its flag
        assert main(argv("x.sqlite", *bad)) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {bad[0]} must be >= 1") and err.count("\n") == 1


def test_train_resume_under_another_thread_count_is_one_line(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CPU run's checkpoints record its thread count; resuming them under another is
    refused before any run, in one line naming --threads (exit 2), not one failed attempt
    per run after the data is loaded."""
    pytest.importorskip("torch")
    db = tmp_path / "r.sqlite"
    base = ["train", "11472", "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
            "--data-root", str(cifar10_root), "--db", str(db), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1"]  # fmt: skip
    assert main([*base, "--threads", "1"]) == 0
    assert main([*base, "--threads", "2"]) == 0  # a done run is skipped, whatever trained it
    for path in tmp_path.glob("r.sqlite*"):  # the run's checkpoint stays: it would resume
        if path.is_file():
            path.unlink()
    capsys.readouterr()
    assert main([*base, "--threads", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "trained with 1 CPU threads, this run has 2" in err and "--threads 1" in err, err
    assert main([*base, "--threads", "0"]) == 2
    assert "--threads must lie in 1..4096" in capsys.readouterr().err
    # on CUDA the count is no CPU run's: refused (a dask worker would train there)
    local = base[: base.index("--device")] + base[base.index("--C") :]  # its own device
    on_gpu = [*local, "--threads", "2", "--device", "cuda", "--executor", "dask://127.0.0.1:9"]
    assert main(on_gpu) == 2
    assert "--threads sets the threads of runs on the CPU" in capsys.readouterr().err


def test_train_count_options_share_one_wording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--retries, --eval-batch-size, --jobs-per-device and --threads are checked by the
    project's one range check: one line naming the flag, the bound and the fix, exit 2,
    before the data is looked for (there is none here)."""
    pytest.importorskip("torch")
    base = ["train", "1", "--dataset", "cifar10", "--data-root", str(tmp_path / "none"),
            "--db", str(tmp_path / "r.sqlite"), "--device", "cpu"]  # fmt: skip
    expected = {
        ("--retries", "-1"): "--retries must be >= 0, got -1; it counts extra attempts per "
        "failed job: --retries 0 for none",
        ("--eval-batch-size", "0"): "--eval-batch-size must be >= 1, got 0; the default is "
        "--eval-batch-size 1024",
        ("--jobs-per-device", "0"): "--jobs-per-device must be >= 1, got 0; the default is "
        "--jobs-per-device 1",
        ("--threads", "0"): "--threads must lie in 1..4096, got 0; e.g. --threads 1",
    }
    for bad, line in expected.items():
        assert main([*base, *bad]) == 2
        assert capsys.readouterr().err == f"error: {line}\n"
    assert not (tmp_path / "r.sqlite").exists()


def test_train_reads_the_results_db_once(
    cifar10_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over a --db holding the campaign's runs, the command opens it twice before the runs:
    once to tell a results database from another SQLite file, once to read what its checks
    need (the done runs, for the thread-count check, and the data digests); the record of a
    disconnected cell says itself whether it kept a trained run."""
    pytest.importorskip("torch")
    from nb201_flat.space import NB201
    from nb201_flat.train import results_db

    zero = NB201.from_ops(["none"] * 6).index
    db = tmp_path / "r.sqlite"
    argv = ["train", str(zero), "11472", "--dataset", "cifar10", "--epochs", "1", "--seeds",
            "1", "--data-root", str(cifar10_root), "--db", str(db), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--threads", "1",
            "--json"]  # fmt: skip
    assert main([*argv, "--train-disconnected"]) == 0  # the disconnected cell trained too
    capsys.readouterr()
    opened: list[Path] = []
    real = results_db.connect_readonly

    def counted(path: object, **kw: object) -> object:
        opened.append(Path(str(path)))
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(results_db, "connect_readonly", counted)
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert opened == [db, db]
    # the trained run of the disconnected cell is reported as stored, not at chance
    assert {(r["index"], r["status"]) for r in out["runs"]} == {
        (zero, "skipped"),
        (11472, "skipped"),
    }
    assert out["constant_output_cells"] == []


def test_train_closes_the_dask_client_when_a_later_check_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler is reached before the data is looked for; a refusal after that (no
    --data-root folder, a folder without the dataset's files) closes the client it opened.
    A stand-in executor: no scheduler is reached."""
    pytest.importorskip("torch")
    from nb201_flat.train import executors

    class Client:
        def __init__(self) -> None:
            self.closed = 0

        def close(self) -> None:
            self.closed += 1

    clients: list[Client] = []

    class Dask(executors.DaskExecutor):
        def connect(self) -> None:
            self._client = Client()
            clients.append(self._client)

    monkeypatch.setattr(executors, "executor_from_spec", lambda spec, **kw: Dask(spec))
    (tmp_path / "empty").mkdir()
    base = ["train", "11472", "--dataset", "cifar10", "--epochs", "1", "--db",
            str(tmp_path / "r.sqlite"), "--device", "cpu", "--executor", "dask://nowhere:1",
            "--C", "2", "--N", "1", "--data-root"]  # fmt: skip
    for root in ("none", "empty"):
        assert main([*base, str(tmp_path / root)]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    assert [c.closed for c in clients] == [1, 1]  # each connected, each closed once
    pytest.importorskip("distributed")  # map needs it
    ex = Dask("tcp://nowhere:1")
    ex.connect()
    assert ex.map([]) == [] and clients[-1].closed == 1  # nothing left to run: closed too

    def damaged(jobs: object) -> object:
        raise ResultsDBError("a damaged --db")

    monkeypatch.setattr(executors, "split_done", damaged)
    ex.connect()
    with pytest.raises(ResultsDBError):
        ex.map([])
    assert clients[-1].closed == 1  # a refusal inside map closes it too


def test_train_faithful_on_a_small_imagenet16_is_one_line_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Faithful mode needs NB201's ImageNet16-120 image counts: refused once, exit 2, before
    any run (not a DatasetSizeError per attempt per run, exit 1)."""
    pytest.importorskip("torch")
    from train_helpers import write_tiny_imagenet16

    root = write_tiny_imagenet16(tmp_path / "data")
    db = tmp_path / "i.sqlite"
    argv = ["train", "0", "11472", "--dataset", "ImageNet16-120", "--data-root", str(root),
            "--device", "cpu", "--executor", "inline", "--N", "1", "--C", "2", "--epochs",
            "1", "--db", str(db)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NB201 trained on 151700 / 6000" in err, err
    assert "--mode fast" in err and not db.exists(), err


def test_train_split_file_messages_say_what_happened(
    cifar10_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fallback split's warning says why (the shipped copy cuts NB201's 50,000 images, not
    these 80) and comes once per campaign, not once more per run; a --split-dir without the
    file does not promise the shipped copy; a --db of runs on another split says split."""
    pytest.importorskip("torch")
    from train_helpers import write_split_file

    base = ["train", "11472", "--dataset", "cifar10-valid", "--epochs", "1", "--seeds", "1",
            "2", "--data-root", str(cifar10_root), "--device", "cpu", "--executor", "inline",
            "--C", "2", "--N", "1"]  # fmt: skip
    with caplog.at_level("WARNING"):
        assert main([*base, "--db", str(tmp_path / "f.sqlite")]) == 0
    said = [r.getMessage() for r in caplog.records if "split file" in r.getMessage()]
    assert len(said) == 1, said
    assert "shipped with the package cuts NB201's 50000 items, not this dataset's 80" in said[0]

    empty = tmp_path / "none"
    empty.mkdir()
    capsys.readouterr()
    assert main([*base, "--db", str(tmp_path / "e.sqlite"), "--split-dir", str(empty)]) == 2
    assert "fits NB201's full dataset only" in capsys.readouterr().err

    keys = ("train", "valid")
    for name, cut in (("a", 40), ("b", 30)):
        (tmp_path / name).mkdir()
        write_split_file(tmp_path / name / "cifar-split.txt", keys, list(range(cut)),
                         list(range(cut, 80)))  # fmt: skip
    db = ["--db", str(tmp_path / "s.sqlite")]
    assert main([*base, *db, "--split-dir", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main([*base, *db, "--split-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "other files or another split" in err and "files and split into a --db" in err, err


def test_train_unreachable_dask_scheduler_is_the_only_line(
    cifar10_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The scheduler is reached before the data is read: its one-line refusal comes alone,
    not after the data's warnings (these files are not NB201's, their split falls back)."""
    pytest.importorskip("distributed")
    import dask

    argv = ["train", "11472", "--dataset", "cifar10-valid", "--epochs", "1", "--data-root",
            str(cifar10_root), "--db", str(tmp_path / "r.sqlite"), "--device", "cpu",
            "--executor", "dask://127.0.0.1:9", "--C", "2", "--N", "1"]  # fmt: skip
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), caplog.at_level("WARNING"):
        assert main(argv) == 2
    assert "cannot reach the dask scheduler" in capsys.readouterr().err
    assert [r.getMessage() for r in caplog.records if r.name.startswith("nb201_flat")] == []


def test_train_arch_after_ops_gets_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse gives --ops every word after it: an ARCH there is named as such, with the two
    ways to write it, the second of which parses."""
    pytest.importorskip("torch")
    argv = ["train", "--dataset", "cifar10", "--data-root", str(tmp_path / "none"), "--db",
            str(tmp_path / "r.sqlite"), "--device", "cpu", "--ops", "none", "skip_connect"]  # fmt: skip
    for arch in ("0", "|none~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"):
        assert main([*argv, arch]) == 2
        err = capsys.readouterr().err
        assert f"--ops read the ARCH {arch} as an op; put ARCH before --ops" in err, err
        # quoted as a shell reads it (a bare '|' is a pipe: test_train_cli_audit10.py)
        assert f"end the command with --ops none skip_connect -- {shlex.quote(arch)}" in err, err
        assert main([*argv, "--", arch]) == 2  # parsed: refused only for the missing data
        assert "is not a folder" in capsys.readouterr().err


def test_the_eval_batch_default_is_the_recipes() -> None:
    # stated in the CLI (no training import to build the parser); one value with the recipe's
    from nb201_flat.cli.train import EVAL_BATCH_SIZE
    from nb201_flat.train.recipe import Recipe

    assert Recipe().eval_batch_size == EVAL_BATCH_SIZE


def test_train_refuses_empty_splits_and_bad_labels_before_any_run(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A split of no images evaluated to NaN, stored as a done run (which the next train and
    import then refused); a test batch of none did the same, a training set of none divided
    by zero in every run, and a label past the classes failed every run in turn. Each is one
    line now, exit 2, and nothing is written to the --db."""
    pytest.importorskip("torch")
    import numpy as np
    from train_helpers import images, write_split_file, write_tiny_cifar10

    from nb201_flat.train.data import write_batch

    base = ["train", "5", "--epochs", "1", "--device", "cpu", "--executor", "inline",
            "--C", "2", "--N", "1"]  # fmt: skip
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    write_split_file(split_dir / "cifar-split.txt", ("train", "valid"), list(range(80)), [])
    zero_test = tmp_path / "zero_test"
    write_tiny_cifar10(zero_test)
    rng = np.random.default_rng(0)
    write_batch(zero_test / "cifar-10-batches-py" / "test_batch", images(rng, 0, 32),
                np.zeros(0, dtype=np.int64), "labels")  # fmt: skip
    bad_label = tmp_path / "bad_label"
    write_tiny_cifar10(bad_label)
    write_batch(bad_label / "cifar-10-batches-py" / "test_batch", images(rng, 3, 32),
                np.array([0, 12, 3]), "labels")  # fmt: skip
    cases = [
        (["--dataset", "cifar10-valid", "--data-root", str(cifar10_root), "--split-dir",
          str(split_dir)], "'valid' lists no images"),
        (["--dataset", "cifar10", "--data-root", str(zero_test)], "cifar10: ori-test holds no images; each needs at least one"),
        (["--dataset", "cifar10", "--data-root", str(bad_label)],
         "a test label is 12, outside the dataset's 10 classes 0..9"),
    ]  # fmt: skip
    for i, (args, said) in enumerate(cases):
        db = tmp_path / f"{i}.sqlite"
        capsys.readouterr()
        assert main([*base, *args, "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and said in err, err
        assert not db.exists()


def test_train_refuses_a_results_db_missing_its_tables(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # our schema version, no runs or epochs table: every read met sqlite3's traceback
    import sqlite3

    from nb201_flat.train.results_db import SCHEMA_VERSION

    db = tmp_path / "cut.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    conn.close()
    before = db.read_bytes()
    argv = ["train", "5", "--dataset", "cifar10", "--epochs", "1", "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--data-root", str(cifar10_root),
            "--db", str(db)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {db} is a damaged results database: its runs and epochs tables are missing; "
        "copy it again from where it was trained, or pass another --db\n"
    )
    assert db.read_bytes() == before  # not altered
    # the library names its own parameter (it said db_path, the campaign's, for a path=)
    from nb201_flat.errors import ResultsDBError
    from nb201_flat.train.results_db import ResultsDB

    with pytest.raises(ResultsDBError, match=r"where it was trained, or pass another path$"):
        ResultsDB(db, readonly=True).runs_frame("nb201")
    # and the import command no Python name at all (it said db_path, then --out)
    assert main(["import", str(db), "--format", "results-db", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {db} is not a results database (no such table: "), err
    assert err.endswith("; import a file that train wrote\n"), err
