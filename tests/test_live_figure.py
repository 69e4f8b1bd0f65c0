"""LiveFigure: what it sends to the browser, and its browser module (run for real in
tests/test_jupyterlab.py)."""

from __future__ import annotations

import numpy as np
import plotly
import plotly.graph_objects as go
import pytest

from rnn_tutor.live_figure import _RENDER, LiveFigure
from rnn_tutor.plots import FigureSpec


def test_show_replaces_the_figure_in_one_trait():
    live = LiveFigure(FigureSpec(data=[dict(type="scatter", y=np.arange(3.0))],
                                 layout=dict(width=300, yaxis=dict(range=[0, 2]))))
    sent = []
    live.observe(lambda change: sent.append(change["new"]), names="figure")
    live.show(go.Figure(go.Bar(y=[3, 1]), layout=dict(title="bars")))
    assert len(sent) == 1, "one change (one message) per show"
    assert live.figure["data"][0]["type"] == "bar"
    assert live.figure["layout"]["title"]["text"] == "bars"
    assert live.figure["config"]["responsive"] is False
    assert isinstance(live.spec, go.Figure)


def test_arrays_travel_as_plotly_typed_arrays():
    live = LiveFigure(FigureSpec(data=[dict(type="scatter", y=np.arange(4, dtype=np.float32))],
                                 layout={}))
    assert live.figure["data"][0]["y"]["dtype"] == "f4"


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="go.Figure"):
        LiveFigure({"data": []})


def test_the_browser_module_carries_the_installed_plotly_js():
    esm = LiveFigure._esm if isinstance(LiveFigure._esm, str) else str(LiveFigure._esm)
    assert f"plotly.js v{plotly.offline.get_plotlyjs_version()}" in esm
    assert "export default" in esm and "Plotly.react" in esm
    assert "http" not in _RENDER and "import(" not in _RENDER, "nothing from the network"
