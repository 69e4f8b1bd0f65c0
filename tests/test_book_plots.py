"""rnn_tutor.plots: the MIME bundle that renders everywhere, and static slider figures."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from rnn_tutor import plots
from rnn_tutor.book_build import BOOK_BUILD_ENV

T = np.arange(20)


def _powers(w):
    return [go.Scatter(x=T, y=w ** T, name="w^t"), go.Scatter(x=T, y=np.ones(20))]


def _spec_from_html(fragment: str) -> dict:
    m = re.search(r"var spec = (\{.*?\});\n", fragment, re.S)
    assert m, "no figure spec in the HTML fragment"
    return json.loads(m.group(1).replace("<\\/", "</"))


# ---------------------------------------------------------------- slider_figure
def test_slider_figure_has_one_frame_and_step_per_value():
    values = np.linspace(0.5, 1.5, 11)
    fig = plots.slider_figure(values, _powers, label="w", value_format=".1f", active=5)
    assert len(fig.frames) == 11
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == [f"{v:.1f}" for v in values]
    assert [fr.name for fr in fig.frames] == [s.label for s in steps]
    assert all(s.method == "animate" and list(s.args[0]) == [s.label] for s in steps)
    assert fig.layout.sliders[0].active == 5
    assert fig.layout.sliders[0].currentvalue.prefix == "w = "
    # The figure starts on the active frame's data.
    np.testing.assert_allclose(fig.data[0].y, 1.0 ** T)
    # Every frame holds its own value's data, computed in Python.
    np.testing.assert_allclose(fig.frames[0].data[0].y, 0.5 ** T)
    np.testing.assert_allclose(fig.frames[-1].data[0].y, 1.5 ** T)


def test_slider_figure_fixes_axes_over_all_frames():
    fig = plots.slider_figure([0.5, 1.5], _powers, label="w")
    lo, hi = fig.layout.yaxis.range
    assert lo <= 0.5 ** 19 and hi >= 1.5 ** 19
    log = plots.slider_figure([0.5, 1.5], _powers, label="w", layout={"yaxis_type": "log"})
    lo, hi = log.layout.yaxis.range  # log10 units on a log axis
    assert lo <= np.log10(0.5 ** 19) and hi >= np.log10(1.5 ** 19)
    kept = plots.slider_figure([0.5, 1.5], _powers, label="w",
                               layout={"yaxis_range": [0, 2]})
    assert tuple(kept.layout.yaxis.range) == (0, 2)
    free = plots.slider_figure([0.5, 1.5], _powers, label="w", fix_ranges=False)
    assert free.layout.yaxis.range is None


def test_slider_figure_keeps_zero_on_a_bar_axis():
    fig = plots.slider_figure([2.0, 3.0], lambda v: [go.Bar(x=["a", "b"], y=[v, v + 1])],
                              label="v")
    lo, hi = fig.layout.yaxis.range
    assert lo <= 0 and hi >= 4
    assert fig.layout.xaxis.range is None  # categories: plotly chooses


@pytest.mark.parametrize("kwargs, error, match", [
    ({"values": []}, ValueError, "at least one"),
    ({"values": [[1.0, 2.0]]}, ValueError, "1 dimensions"),
    ({"values": [1, 2]}, TypeError, "floating-point"),
    ({"values": [1.0, np.nan]}, ValueError, "finite"),
    ({"traces": "not callable"}, TypeError, "traces must be a function"),
    ({"label": ""}, TypeError, "label"),
    ({"active": 3}, ValueError, "active must index"),
    ({"active": -1}, ValueError, "active"),
    ({"value_format": ".0f", "values": [1.0, 1.2]}, ValueError, "same label"),
    ({"value_format": "%d"}, ValueError, "format spec"),
    ({"traces": lambda w: []}, ValueError, "no traces"),
    ({"traces": lambda w: _powers(w)[: 1 + int(w > 1)]}, ValueError, "same number"),
])
def test_slider_figure_rejects_bad_input_clearly(kwargs, error, match):
    args = {"values": [0.5, 1.0, 1.5], "traces": _powers, "label": "w"} | kwargs
    with pytest.raises(error, match=match):
        plots.slider_figure(args.pop("values"), args.pop("traces"), **args)


# ---------------------------------------------------------------- HTML and bundles
def test_figure_html_draws_with_the_pages_plotly_and_no_bundled_libraries():
    fig = plots.slider_figure([0.5, 1.5], _powers, label="w", layout={"height": 300})
    fragment = plots.figure_html(fig)
    assert 'class="plotly-graph-div' in fragment and "height:300px" in fragment
    assert len(fragment) < 100_000, "plotly.js or MathJax got inlined"
    assert "MathJax" not in fragment
    spec = _spec_from_html(fragment)
    assert set(spec) == {"data", "layout", "frames", "config"}
    assert len(spec["frames"]) == 2 and spec["config"]["responsive"] is True
    # Only the live-notebook fallback names another host; the book never reaches it
    # because window.Plotly is checked first (the browser tests record every request).
    urls = set(re.findall(r"https?://[^\"' )]+", fragment.split("var spec")[0]
                          + fragment.split(";\n", 1)[1]))
    fallback = plots._PLOTLY_JS_FALLBACK_URL
    assert urls <= {fallback, fallback[: -len(".js")]}, urls
    assert fragment.index("if (window.Plotly)") < fragment.index("createElement")


def test_figure_html_ids_are_deterministic_but_unique_per_display():
    fig = go.Figure(go.Scatter(y=[1, 2, 3]))
    a, b = plots.figure_html(fig), plots.figure_html(fig)
    id_a = re.search(r'id="([^"]+)"', a).group(1)
    id_b = re.search(r'id="([^"]+)"', b).group(1)
    assert id_a != id_b and id_a.rsplit("-", 1)[0] == id_b.rsplit("-", 1)[0]
    assert 'id="mine"' in plots.figure_html(fig, div_id="mine")


def test_script_content_cannot_close_the_script_element():
    fig = go.Figure(go.Scatter(y=[1, 2]), layout={"title": "</script><b>x</b>"})
    fragment = plots.figure_html(fig)
    body = fragment.split("<script", 1)[1]
    assert body.count("</script>") == 1
    assert _spec_from_html(fragment)["layout"]["title"]["text"] == "</script><b>x</b>"


def test_bundle_for_the_book_is_html_only(monkeypatch):
    fig = go.Figure(go.Scatter(y=[1, 2]))
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    book = plots.mime_bundle(fig)
    assert set(book) == {"text/html", "text/plain"}
    monkeypatch.delenv(BOOK_BUILD_ENV)
    live = plots.mime_bundle(fig)
    assert set(live) == {"text/html", "text/plain", "application/vnd.plotly.v1+json"}
    assert live["application/vnd.plotly.v1+json"]["data"][0]["type"] == "scatter"
    # A notebook's renderer gets a fixed size (it would re-fit a figure without one to an
    # empty box when JupyterLab's theme changes); a size the figure gives is kept.
    layout = live["application/vnd.plotly.v1+json"]["layout"]
    assert (layout["width"], layout["height"]) == (plots.NOTEBOOK_WIDTH, 450), layout
    sized = plots.mime_bundle(go.Figure(layout={"width": 500, "height": 300}), book=False)
    layout = sized["application/vnd.plotly.v1+json"]["layout"]
    assert (layout["width"], layout["height"]) == (500, 300), layout
    assert set(plots.mime_bundle(fig, book=True)) == {"text/html", "text/plain"}


def test_show_publishes_the_bundle(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    with capture_output() as captured:
        plots.show(plots.slider_figure([0.5, 1.5], _powers, label="w"))
    (output,) = captured.outputs
    assert set(output.data) == {"text/html", "text/plain"}
    assert "2 frame(s)" in output.data["text/plain"]


@pytest.mark.parametrize("bad", [None, {"data": []}, "figure"])
def test_non_figures_are_refused(bad):
    with pytest.raises(TypeError, match="plotly.graph_objects.Figure"):
        plots.figure_html(bad)


# ---------------------------------------------------------------- slider_frames
def test_slider_frames_names_groups_and_leaves_fixed_groups_out_of_the_frames():
    def frame(v):
        return {"axes": [dict(type="scatter", x=[0, 1], y=[0, 0], line={"color": "grey"})],
                "curves": [dict(type="scatter", y=[v, 2 * v], name="a", line={"width": 3}),
                           dict(type="scatter", y=[v, 3 * v], name="b")]}
    parts = plots.slider_frames([frame(1.0), frame(2.0)], ["1", "2"], label="v", active=1,
                                fixed=("axes",), keys=("x", "y"), pad={"t": 55})
    assert parts["groups"] == {"axes": [0], "curves": [1, 2]}
    assert parts["data"][1]["y"] == [2.0, 4.0] and parts["data"][1]["line"] == {"width": 3}
    first = parts["frames"][0]
    assert first["name"] == "1" and first["traces"] == [1, 2]
    assert first["data"] == [{"type": "scatter", "y": [1.0, 2.0]},
                             {"type": "scatter", "y": [1.0, 3.0]}]     # data only, no style
    assert parts["slider"]["active"] == 1 and parts["slider"]["pad"] == {"t": 55}
    assert [s["label"] for s in parts["slider"]["steps"]] == ["1", "2"]
    with pytest.raises(ValueError, match="same number"):
        plots.slider_frames([frame(1.0), {"axes": [], "curves": []}], ["1", "2"], label="v")


def test_figure_specs_render_like_figures_and_plain_dicts_are_refused():
    spec = plots.FigureSpec(data=[dict(type="scatter", y=np.arange(3, dtype=np.float32))],
                            layout={"title": "plain", "height": 300})
    bundle = plots.mime_bundle(spec, book=False)
    y = bundle["application/vnd.plotly.v1+json"]["data"][0]["y"]
    assert y["dtype"] == "f4"                       # a typed array, as plotly writes it
    assert "'plain' with 1 trace(s)" in bundle["text/plain"]
    assert spec.figure().data[0].y.tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="plotly.graph_objects.Figure"):
        plots.figure_html(dict(spec))


def test_describe_reads_title_axes_traces_and_slider():
    fig = plots.slider_figure(
        [0.5, 1.0, 1.5], lambda w: [go.Scatter(x=[0, 1], y=[1, w]), go.Bar(x=[0], y=[w])],
        label="w", layout={"title": "Gradient of <b>W_hh</b>", "xaxis_title": "steps back, t",
                           "yaxis_title": "|w|<sup>t</sup> (log scale)"})
    text = plots.describe(fig)
    assert text == ("Figure: Gradient of W_hh. Horizontal axis: steps back, t; vertical "
                    "axis: |w|^t (log scale). 2 traces (bar, scatter). Slider over w, 3 "
                    "positions: focus the figure and use the arrow keys.")
    assert plots.describe(go.Figure()) == "Figure: untitled. No data."
    assert plots.describe(plots.FigureSpec(data=[{"type": "heatmap", "z": [[1]]}],
                                           layout={"title": {"text": "A"}})) \
        == "Figure: A. 1 trace (heatmap)."


def test_figure_html_is_a_described_figure_and_sliders_take_the_keyboard():
    still = plots.figure_html(go.Figure(go.Scatter(y=[1, 2]), layout={"title": "T"}))
    assert 'role="figure" aria-label="Figure: T. 1 trace (scatter)."' in still
    assert "tabindex" not in still.split("<script")[0], "nothing to operate: not focusable"
    moving = plots.figure_html(plots.slider_figure([1.0, 2.0], lambda v: [go.Scatter(y=[v])],
                                                   label="v"))
    div = moving.split("<script")[0]
    assert 'tabindex="0"' in div and "arrow keys" in div
    assert '"keydown"' in moving and "ArrowRight" in moving
    quote = plots.figure_html(go.Figure(layout={"title": 'say "hi" <i>&</i>'}))
    assert 'aria-label="Figure: say &quot;hi&quot; &amp;. No data."' in quote
