"""rnn_tutor.showdown (chapter 10's sweep) and the showdown section of scripts/reproduce.py."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from rnn_tutor import models, showdown, tasks

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {"task", "length", "cell", "seed", "ratio", "solved", "steps", "cpu_seconds",
            "seconds", "reason", "final_eval_loss", "final_eval_accuracy", "baseline",
            "parameters"}


def _reproduce():
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "scripts" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(showdown.TASKS))
def test_make_task_gives_each_task_at_the_length(name):
    task = showdown.make_task(name, 12)
    expected = {"adding": tasks.AddingProblem, "copy": tasks.CopyTask,
                "temporal order": tasks.TemporalOrder, "agreement": tasks.Agreement}[name]
    assert isinstance(task, expected)
    assert task.baseline > 0
    with pytest.raises(ValueError):
        showdown.make_task("nonsense", 12)


@pytest.mark.parametrize("cell", list(showdown.CELLS))
def test_recipes_build_the_cell_they_name(cell):
    model = models.for_task(tasks.TemporalOrder(T=10), hidden_size=8, seed=0,
                            **showdown.CELLS[cell])
    kind = {"tanh RNN": torch.nn.RNN, "IRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM,
            "GRU": torch.nn.GRU}[cell]
    assert isinstance(model.rnn, kind)
    if cell == "IRNN":
        assert model.rnn.nonlinearity == "relu"
        assert torch.equal(model.rnn.weight_hh_l0, torch.eye(8))
    assert showdown.parameter_count(model) == sum(p.numel() for p in model.parameters())


def test_run_returns_a_row_and_respects_the_budget():
    row = showdown.run("temporal order", 10, "GRU", seed=1, budget=0.3, hidden_size=4,
                       keep_history=True)
    assert ROW_KEYS <= set(row)
    assert row["solved"] == (row["ratio"] < showdown.SOLVED)
    assert row["history"].eval_loss and row["reason"] in ("time_limit", "target", "steps")
    assert row["cpu_seconds"] < 3.0
    with pytest.raises(ValueError):
        showdown.run("adding", 5, "transformer")


def test_sweep_success_rate_and_reach():
    rows = showdown.sweep({"adding": [4]}, cells=("LSTM",), seeds=(0,), budget=0.1,
                          hidden_size=2, max_steps=5)
    assert len(rows) == 1 and rows[0]["steps"] <= 5
    fake = [dict(task="t", cell="c", length=n, solved=s) for n, s in
            [(10, True), (10, True), (20, True), (20, False), (40, True), (40, True)]]
    assert showdown.success_rate(fake, "t", "c", 20) == 0.5
    assert showdown.reach(fake, "t", "c") == 40           # half of the runs is enough
    assert showdown.reach(fake, "t", "c", rate=1.0) == 10  # stops at the first failure
    assert showdown.reach([dict(fake[2], length=5, solved=False)] + fake, "t", "c",
                          rate=1.0) == 0
    with pytest.raises(ValueError):
        showdown.success_rate(fake, "t", "c", 99)


def test_step_time_is_positive():
    assert 0 < showdown.step_time(tasks.TemporalOrder(T=10), "LSTM", hidden_size=4,
                                  batch_size=2, repeats=3) < 5


def test_reproduce_showdown_quickest_path(tmp_path, monkeypatch):
    reproduce = _reproduce()
    monkeypatch.setitem(reproduce.SHOWDOWN, "lengths", {"temporal order": [10]})
    monkeypatch.setitem(reproduce.SHOWDOWN, "budget", 0.05)
    monkeypatch.setitem(reproduce.SHOWDOWN, "hidden_size", 2)
    assert reproduce.main(["--only", "showdown", "--seeds", "0", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "reproductions.json").read_text())
    rows = result["experiments"]["showdown"]["rows"]
    assert {r["cell"] for r in rows} == set(showdown.CELLS)
    assert "Solved runs / runs" in (tmp_path / "reproductions.md").read_text()


def test_committed_showdown_results_match_the_script():
    """results/reproductions.json holds a full showdown sweep made with SHOWDOWN's settings."""
    reproduce = _reproduce()
    exp = json.loads((ROOT / "results" / "reproductions.json").read_text())[
        "experiments"]["showdown"]
    rows, settings = exp["rows"], reproduce.SHOWDOWN
    seeds = sorted({r["seed"] for r in rows})
    assert len(seeds) >= 3, "the committed sweep has several seeds"
    for r in rows:
        assert ROW_KEYS | {"experiment", "model", "metric"} <= set(r)
        assert (r["budget"], r["hidden_size"]) == (settings["budget"], settings["hidden_size"])
        assert r["solved"] == (r["ratio"] < showdown.SOLVED)
    grid = {(r["task"], r["length"], r["cell"], r["seed"]) for r in rows}
    expected = {(t, n, c, s) for t, lengths in settings["lengths"].items() for n in lengths
                for c in showdown.CELLS for s in seeds}
    assert grid == expected and len(rows) == len(expected)
    assert set(exp["claims"]) and all(len(v) == len(seeds) for v in exp["claims"].values())
