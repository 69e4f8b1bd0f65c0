"""Tests for the gradient explorer: computations, live widgets and static book figures."""

import itertools
import math
import warnings

import numpy as np
import plotly.graph_objects as go
import pytest

from rnn_tutor import cells, explorer as ex, explorer_views as ev, widgets
from rnn_tutor.gradients import gradient_profile, profile_setup
from rnn_tutor.book_build import BOOK_BUILD_ENV

SMALL = dict(T=60, hidden_size=16)


def _log10(p):
    with np.errstate(all="ignore"):
        out = np.log10(np.asarray(p, dtype=float))
    out[~np.isfinite(out)] = np.nan
    return out


def _plotly_json_y(live, trace=0, axis="y"):
    """The y (or x) data of a trace in the JSON a LiveFigure last sent to the browser."""
    y = live.figure["data"][trace][axis]
    if isinstance(y, dict):                       # plotly's base64 typed-array encoding
        import base64
        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
    return np.asarray(y, dtype=float)


# ----------------------------------------------------------------------------- verdicts

def test_verdict_vanishing_whenever_gamma_scale_below_one_and_T_long_enough():
    # ||dL/dh_0|| <= (gamma sigma)^T: once that bound is below 1/STABLE_BAND the
    # gradient must be called vanishing, for every nonlinearity, seed and init.
    for activation, init, seed in itertools.product(ex.ACTIVATION_CHOICES,
                                                    ("orthogonal", "gaussian"), (0, 1)):
        gamma = cells.ACTIVATIONS[activation].gamma
        for scale in (0.3, 0.6, 0.9 / gamma if gamma < 1 else 0.9, 0.99):
            if gamma * scale >= 1:
                continue
            T = math.ceil(math.log(1 / ex.STABLE_BAND) / math.log(gamma * scale)) + 1
            T = min(T, ex.MAX_T)
            res = ex.explore(scale, T, 16, activation, init, seed=seed)
            assert res.sigma == pytest.approx(scale)
            bound = 10 ** res.log10_bounds()[list(res.log10_bounds())[-1]]
            finite = np.isfinite(res.profile)
            assert np.all(res.profile[finite] <= bound[finite] * (1 + 1e-9) + 1e-300)
            assert res.verdict.kind == "vanishing", (activation, init, scale, T,
                                                     res.verdict.text)


def test_verdict_exploding_and_stable_for_the_linear_orthogonal_rnn():
    # There the profile is exactly scale^(T - k).
    res = ex.explore(1.1, 100, 16, "linear", "orthogonal")
    assert res.profile == pytest.approx(1.1 ** np.arange(100, -1, -1), rel=1e-9)
    assert res.verdict.kind == "exploding"
    assert res.verdict.factor == pytest.approx(1.1 ** 100, rel=1e-9)
    assert res.verdict.per_step == pytest.approx(1.1, rel=1e-9)
    assert "1.4e+04" in res.verdict.text
    assert ex.explore(1.0, 300, 16, "linear", "orthogonal").verdict.kind == "stable"
    assert ex.explore(0.9, 100, 16, "linear", "orthogonal").verdict.kind == "vanishing"


def test_verdict_names_overflow_nan_and_underflow():
    v = ex.judge([np.inf, 1e300, 1e10, 1.0])
    assert (v.kind, v.event, v.event_step) == ("exploding", "overflow", 0)
    assert "inf" in v.text and "k = 0" in v.text
    v = ex.judge([np.nan, 1e300, 1.0])
    assert v.event == "nan" and "NaN" in v.text and v.kind == "exploding"
    v = ex.judge([0.0, 1e-320, 1e-100, 1.0])
    assert (v.kind, v.event) == ("vanishing", "underflow") and "underflow" in v.text
    v = ex.judge([0.0, 0.0, 0.5, 1.0])
    assert (v.kind, v.event, v.event_step) == ("vanishing", "cut", 1)
    # Real networks: overflow (linear, identity, scale 5 over 500 steps) and NaN
    # (orthogonal: inf - inf in the matrix product), drawn as a marker on the plot.
    for init, event, label in (("identity", "overflow", "inf"), ("orthogonal", "nan", "NaN")):
        res = ex.explore(5.0, 500, 8, "linear", init)
        assert res.verdict.event == event, res.verdict.text
        marker = ev.profile_spec(res)["data"][4]
        assert marker["text"] == [label] and marker["x"] == [res.verdict.event_step]
    res = ex.explore(0.25, 500, 64, "relu")
    assert res.verdict.event in ("underflow", "cut") and "0" in res.verdict.text


def test_scalar_case():
    assert ex.scalar_powers(0.9, 3) == pytest.approx([1, 0.9, 0.81, 0.729])
    assert ex.scalar_verdict(0.9, 200).kind == "vanishing"
    assert ex.scalar_verdict(1.1, 200).kind == "exploding"
    assert ex.scalar_verdict(1.0, 200).kind == "stable"
    assert ex.scalar_verdict(10.0, 500).event == "overflow"
    assert ex.scalar_verdict(0.01, 500).event == "underflow"
    spec = ev.scalar_spec(1.1, 50)
    assert np.allclose(spec["data"][2]["y"], 50 * 0 + np.arange(51) * np.log10(1.1), atol=1e-5)


# ----------------------------------------------------------------------------- clipping

def _clipped_bptt(threshold, **kw):
    """Per-step clipping written out directly: the definition clip_profile must match.

    Returns the norms of the (clipped) dL/dh_k for k = 0..T and how often the clip fired.
    """
    s = profile_setup("rnn", **kw)
    phi = cells.ACTIVATIONS[s["activation"]]
    h, hs = s["h0"], []
    for x in s["xs"]:
        h = phi.value(s["W_xh"] @ x + s["W_hh"] @ h)
        hs.append(h)
    g, norms, fired = s["u"], [], 0
    for t in range(len(hs), -1, -1):
        if t < len(hs):
            g = s["W_hh"].T @ (phi.derivative_from_value(hs[t]) * g)
        n = np.linalg.norm(g)
        if n > threshold:
            g, fired = g * (threshold / n), fired + 1
        norms.append(np.linalg.norm(g))
    return np.array(norms[::-1]), fired


@pytest.mark.parametrize("threshold", [0.5, 3.0, 1e12])
def test_clipped_profile_equals_clipping_inside_bptt(threshold):
    kw = dict(T=80, hidden_size=12, scale=2.0, activation="relu", init="orthogonal", seed=3)
    res = ex.explore(kw["scale"], kw["T"], kw["hidden_size"], kw["activation"],
                     kw["init"], seed=kw["seed"], clip=threshold)
    assert res.verdict.kind == "exploding"
    direct, fired = _clipped_bptt(threshold, **kw)
    assert res.clipped == pytest.approx(direct, rel=1e-9)
    assert res.clip_fired == fired
    assert (fired > 10) == (threshold < 10), fired
    assert np.all(res.clipped <= threshold * (1 + 1e-12))


def test_clipping_keeps_an_overflowing_gradient_finite():
    res = ex.explore(5.0, 500, 8, "linear", "identity", clip=10.0)
    assert res.verdict.event == "overflow"
    assert np.all(np.isfinite(res.clipped)) and np.all(res.clipped <= 10.0 * (1 + 1e-12))
    assert res.clip_fired == 500 - 1                  # every step once 5^k passed 10
    assert "fired at 499 of 501 steps" in res.verdict.text


# ----------------------------------------------------------------------------- live widgets

def test_setting_controls_updates_the_figures():
    e = widgets.gradient_explorer(**SMALL)
    before = _plotly_json_y(e.view)
    assert before == pytest.approx(_log10(gradient_profile("rnn", 60, 16, 1.0)), abs=1e-5)
    e.controls["scale"].value = 2.0
    after = _plotly_json_y(e.view)
    assert not np.allclose(before, after)
    assert after == pytest.approx(_log10(gradient_profile("rnn", 60, 16, 2.0)), abs=1e-5)
    assert e.result.controls["scale"] == 2.0
    # traces 0-4: the profile's; 5: unit circle; 6: circle of radius scale; 7: eigenvalues
    assert e.view.figure["data"][6]["name"].endswith("= scale")
    assert e.view.figure["data"][6]["xaxis"] == "x2"
    radius = np.hypot(_plotly_json_y(e.view, 6, "x"), _plotly_json_y(e.view, 6, "y"))
    assert radius == pytest.approx(2.0, rel=1e-6)
    assert "spectral radius 2" in e.verdict.value

    e.controls["T"].value = 30
    assert len(_plotly_json_y(e.view)) == 31
    e.controls["activation"].value = "sigmoid"
    assert "vanishing" in e.verdict.value
    assert len(e.spec["data"][3]["x"]) == 2                     # the gamma bound appears
    assert e.spec["data"][3]["showlegend"] and not e.spec["data"][1]["showlegend"]
    e.controls["clip_on"].value = True
    e.controls["clip"].value = 0.1
    clipped = _plotly_json_y(e.view, trace=1)
    assert len(clipped) == 31 and np.nanmax(clipped) <= math.log10(0.1) + 1e-6
    # the legend is HTML below the plot: every trace with data, none without
    assert e.view.figure["layout"]["showlegend"] is False
    assert "clipped at 0.1" in e.legend.value and "unit circle" in e.legend.value
    assert e.legend.value.count("<svg") == sum(t["showlegend"] for t in e.spec["data"])
    assert "clipping at 0.1" in e.verdict.value
    e.controls["cell"].value = "lstm"
    assert e.controls["activation"].disabled and not e.controls["forget_bias"].disabled
    lstm_before = _plotly_json_y(e.view)
    e.controls["forget_bias"].value = 4.0
    assert not np.allclose(lstm_before, _plotly_json_y(e.view))
    assert len(e.result.eigenvalues) == 4
    assert len(e.view.figure["data"]) == 5 + 2 + 4              # one trace per gate block


def test_the_gradient_axis_follows_the_data_unless_frozen():
    e = widgets.gradient_explorer(scale=1.0, T=200, hidden_size=16)
    fitted = e.spec["layout"]["yaxis"]["range"]
    low = float(np.nanmin(_log10(e.result.profile)))
    assert fitted[0] <= low and fitted[0] > low - 0.2 * (fitted[1] - low)   # data, padded
    e.controls["scale"].value = 1.5
    exploding = e.spec["layout"]["yaxis"]["range"]
    assert exploding[1] >= float(np.nanmax(_log10(e.result.profile))) and exploding != fitted
    e.controls["freeze_axis"].value = True
    e.controls["scale"].value = 0.5
    assert e.spec["layout"]["yaxis"]["range"] == exploding, "frozen: the range stays put"
    assert e.view.figure["layout"]["yaxis"]["range"] == exploding
    e.controls["freeze_axis"].value = False
    assert e.spec["layout"]["yaxis"]["range"] != exploding


def test_starting_values_outside_the_usual_ranges_are_kept():
    e = widgets.gradient_explorer(scale=6.0, T=8, hidden_size=4, input_scale=5.0,
                                  forget_bias=-4.0, clip=1e3)
    assert e.result.controls == dict(scale=pytest.approx(6.0), T=8, hidden_size=4,
                                     activation="tanh", init="orthogonal", cell="rnn",
                                     scale_by="norm", forget_bias=-4.0, input_scale=5.0,
                                     seed=0, clip=pytest.approx(1e3))
    with pytest.raises(TypeError, match="T"):
        widgets.gradient_explorer(T=2.5)


def test_explorer_displays_as_one_widget():
    e = widgets.gradient_explorer(**SMALL)
    bundle = e._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == e.widget.model_id
    assert e.view in e.widget.children
    # responsive mode drew height-0 plots in JupyterLab's flex boxes
    assert e.view.figure["config"]["responsive"] is False
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        assert e.view.figure["layout"][axis]["title"]["text"], f"{axis} has a title"


def test_scalar_explorer_updates():
    s = widgets.scalar_explorer(0.9, 50)
    assert _plotly_json_y(s.view, trace=2)[-1] == pytest.approx(50 * math.log10(0.9), abs=1e-4)
    s.controls["w"].value = 1.2
    assert _plotly_json_y(s.view, trace=2)[-1] == pytest.approx(50 * math.log10(1.2), abs=1e-4)
    assert "exploding" in s.spec["layout"]["title"]["text"]
    s.controls["T"].value = 20
    assert len(_plotly_json_y(s.view, trace=2)) == 21


# ----------------------------------------------------------------------------- static book

def test_static_frames_equal_gradient_profile():
    acts = ("tanh", "sigmoid")
    fig = ev.static_explorer(**SMALL, activations=acts, seed=2).figure()
    scales = ex.slider_scales()
    assert len(fig.frames) == len(scales) == 49 and 1.0 in scales
    names = [step["label"] for step in fig.layout.sliders[0].steps]
    assert names == [f.name for f in fig.frames]
    n_eigen = 3
    for frame, scale in zip(fig.frames, scales):
        assert float(frame.name) == scale
        index = {t: i for i, t in enumerate(frame.traces)}
        for g, act in enumerate(acts):
            y = np.asarray(frame.data[index[n_eigen + 6 * g]].y, dtype=float)
            want = _log10(gradient_profile("rnn", 60, 16, scale, act, seed=2,
                                           forget_bias=1.0))
            np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-4)
        lam = np.asarray(frame.data[index[2]].x) + 1j * np.asarray(frame.data[index[2]].y)
        assert np.max(np.abs(lam)) == pytest.approx(scale, rel=1e-5)   # orthogonal
    # The dropdown shows one nonlinearity's traces at a time.
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["\u03c6 = tanh", "\u03c6 = sigmoid"]
    vis = menu.buttons[1].args[0]["visible"]
    assert vis[:n_eigen] == [True] * n_eigen and vis[n_eigen:] == [False] * 6 + [True] * 6


def test_static_figures_are_valid_plotly_and_small():
    from rnn_tutor.plots import figure_html
    fig = ev.static_explorer()
    go.Figure(fig)                               # full validation of data, layout, frames
    html = figure_html(fig)
    assert len(html) < 600_000, len(html)        # 4 nonlinearities x 49 frames at T=200
    scalar = ev.static_scalar_explorer()
    go.Figure(scalar)
    assert len(scalar["frames"]) == 41 and len(figure_html(scalar)) < 100_000
    lstm = ev.static_explorer(T=40, hidden_size=8, cell="lstm").figure()
    assert "updatemenus" not in lstm.to_plotly_json()["layout"] or \
        not lstm.layout.updatemenus
    assert len(lstm.data) == 2 + 4 + 6


# ----------------------------------------------------------------------------- robustness

def _check(res):
    for spec in (ev.profile_spec(res), ev.eigenvalue_spec(res)):
        for trace in spec["data"]:
            for key in ("x", "y"):
                v = np.asarray(trace.get(key, []), dtype=float)
                assert not np.any(np.isinf(v))   # inf is never drawn; a marker names it
    assert res.verdict.kind in ("vanishing", "stable", "exploding") and res.verdict.text


@pytest.mark.filterwarnings("error")
def test_control_grid_sweep_no_exceptions_no_warnings():
    lo, hi = ex.SCALE_RANGE
    n = 0
    # Every option of the RNN, at both ends of the scale, length and input sliders.
    for act, init, scale_by, scale, T, input_scale in itertools.product(
            ex.ACTIVATION_CHOICES, ex.INIT_CHOICES, ex.SCALE_BY_CHOICES, (lo, hi),
            (1, ex.MAX_T), (0.0, 3.0)):
        _check(ex.explore(scale, T, 32, act, init, "rnn", scale_by=scale_by,
                          input_scale=input_scale))
        n += 1
    # Gated cells, with the forget-bias slider's ends.
    for cell, init, scale_by, scale, fb in itertools.product(
            ("lstm", "gru"), ex.INIT_CHOICES, ex.SCALE_BY_CHOICES, (lo, hi), (-3.0, 5.0)):
        if cell == "gru" and fb == 5.0:
            continue                            # the GRU has no forget bias
        _check(ex.explore(scale, ex.MAX_T, 8, "tanh", init, cell, scale_by=scale_by,
                          forget_bias=fb, input_scale=3.0))
        n += 1
    # Hidden-size, seed and clip ends, and scales beyond the slider (overflow to inf).
    for H, seed, clip, scale, init in itertools.product(
            (1, 128), (0, 2**31 - 1), (None, 0.01, 100.0), (lo, hi, 6.0), ex.INIT_CHOICES):
        _check(ex.explore(scale, ex.MAX_T, H, "linear", init, seed=seed, clip=clip,
                          scale_by="radius" if seed else "norm"))
        n += 1
    for w, T in itertools.product((0.5, 1.5, 1e-3, 1e3, 0.0, -2.0), (1, ex.MAX_T)):
        assert ex.scalar_verdict(w, T).text
        ev.scalar_spec(w, T)
    assert n == 192 + 36 + 108


@pytest.mark.filterwarnings("error")
def test_widget_control_ends_no_warnings():
    # Drive the real widgets to the ends of every control (the static figures too).
    e = widgets.gradient_explorer(T=ex.MAX_T, hidden_size=8)
    c = e.controls

    def ends(control):
        if hasattr(control, "base"):              # FloatLogSlider: min/max are exponents
            return control.base ** control.min, control.base ** control.max
        return control.min, control.max

    for name in ("scale", "T", "hidden_size", "forget_bias", "input_scale", "seed", "clip"):
        for end in ends(c[name]):
            c[name].value = end
            assert c[name].value == pytest.approx(end)
            assert e.result.controls[name if name != "clip" else "scale"] is not None
    c["clip_on"].value = True
    for end in ends(c["clip"]):
        c["clip"].value = end
        assert e.result.controls["clip"] == pytest.approx(end)
    c["T"].value, c["hidden_size"].value = 50, 8
    for cell, act, init, scale_by, clip_on in itertools.product(
            ("rnn", "lstm", "gru"), ex.ACTIVATION_CHOICES, ex.INIT_CHOICES,
            ex.SCALE_BY_CHOICES, (False, True)):
        if cell != "rnn" and act != "tanh":
            continue                            # gated cells ignore the nonlinearity
        c["cell"].value, c["activation"].value = cell, act
        c["init"].value, c["scale_by"].value, c["clip_on"].value = init, scale_by, clip_on
        for end in ends(c["scale"]):
            c["scale"].value = end
            assert e.result.controls == e.settings()
    for cell in ("rnn", "gru"):
        ev.static_explorer(T=20, hidden_size=4, cell=cell, clip=1.0)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="activation.*'tanh'"):
        ex.explore(activation="softmax")
    with pytest.raises(ValueError, match="cell"):
        ex.explore(cell="transformer")
    with pytest.raises(ValueError, match="seed"):
        ex.explore(seed=-1)
    with pytest.raises(ValueError, match="clip"):
        ex.explore(clip=0.0)
    with pytest.raises(ValueError, match="scale"):
        ex.explore(scale=-1.0)
    with pytest.raises(TypeError, match="T"):
        ex.explore(T=2.5)
    with pytest.raises(ValueError, match="activation"):
        widgets.gradient_explorer(activation="softmax")
    with pytest.raises(ValueError, match="scales"):
        ev.static_explorer(scales=[1.0, 1.0001])


def test_book_build_shows_the_static_explorer_and_creates_no_widget(monkeypatch):
    from ipywidgets.widgets.widget import _instances
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    before = len(_instances)
    e = widgets.gradient_explorer(scale=2.0, activation="relu", **SMALL)
    s = widgets.scalar_explorer(1.1, 40)
    assert len(_instances) == before
    assert isinstance(e, widgets.StaticStandIn) and isinstance(s, widgets.StaticStandIn)
    assert e.result.verdict.kind == "exploding"
    assert set(e._repr_mimebundle_()) == {"text/html", "text/plain"}
    assert e.figure.layout.sliders[0].active == list(ex.slider_scales()).index(2.0)
    assert e.figure.layout.updatemenus[0].buttons[0].label == "\u03c6 = relu"
    assert len(s.figure.frames) == 41
    with pytest.raises(ValueError, match="activation"):
        widgets.gradient_explorer(activation="softmax")


@pytest.mark.browser
def test_static_explorer_slider_and_dropdown_in_a_browser(browser, tmp_path):
    # A standalone page with the installed plotly.js (no book build needed): dragging the
    # slider swaps the curve and the verdict; the dropdown switches nonlinearity, and
    # the choice survives further slider moves.
    import shutil
    from pathlib import Path

    import plotly

    from rnn_tutor.plots import figure_html
    fig = ev.static_explorer(**SMALL, activations=("tanh", "relu"))
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", tmp_path)
    page_file = tmp_path / "explorer.html"
    page_file.write_text('<html><head><meta charset="utf-8"><script src="plotly.min.js">'
                         f'</script></head><body>{figure_html(fig, div_id="gx")}</body></html>',
                         encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.wait_for_function("() => { const gd = document.getElementById('gx');"
                           " return gd && gd._fullData && gd._transitionData &&"
                           " gd._transitionData._frames.length === 49; }")
    # Hidden traces are not in _fullData's computed arrays: read gd.data, decoding
    # plotly's base64 typed arrays where they are still encoded.
    state = """() => { const gd = document.getElementById('gx');
        const arr = v => (v && v.bdata) ? Array.from(new Float32Array(Uint8Array.from(
            atob(v.bdata), c => c.charCodeAt(0)).buffer)) : Array.from(v).map(Number);
        return {visible: gd._fullData.map(t => t.visible === true),
                tanh: arr(gd.data[3].y), relu: arr(gd.data[9].y),
                verdicts: [gd.data[8].text, gd.data[14].text].map(String),
                label: gd.querySelector('.slider-label').textContent}; }"""
    start = page.evaluate(state)
    assert start["label"] == "weight scale = 1"
    assert start["visible"][3] and not start["visible"][9]

    rail = page.locator("#gx .slider-rail-rect").first
    grip = page.locator("#gx .slider-grip-rect").first
    rb, gb = rail.bounding_box(), grip.bounding_box()
    y = gb["y"] + gb["height"] / 2
    page.mouse.move(gb["x"] + gb["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(rb["x"] + rb["width"] - 2, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    moved = page.evaluate(state)
    assert moved["label"] == "weight scale = 4"
    want = _log10(gradient_profile("rnn", 60, 16, 4.0, "tanh", forget_bias=1.0))
    np.testing.assert_allclose(moved["tanh"], want, rtol=1e-6, atol=1e-4)
    assert moved["verdicts"] != start["verdicts"]

    page.locator("#gx .updatemenu-header-group").first.click()
    page.locator("#gx .updatemenu-item-text", has_text="relu").first.click()
    page.wait_for_timeout(300)
    switched = page.evaluate(state)
    assert switched["visible"][9] and not switched["visible"][3]
    page.mouse.move(rb["x"] + rb["width"] - 2, y)
    page.mouse.down()
    page.mouse.move(rb["x"] + 2, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    back = page.evaluate(state)
    assert back["label"] == "weight scale = 0.25"
    assert back["visible"][9] and not back["visible"][3]          # the choice survives
    want = _log10(gradient_profile("rnn", 60, 16, 0.25, "relu", forget_bias=1.0))
    np.testing.assert_allclose(back["relu"], want, rtol=1e-6, atol=1e-4, equal_nan=True)
    assert errors == []
    page.close()


# ----------------------------------------------------------------------------- any figure

def _waves(a, b=1.0):
    x = np.arange(10.0)
    return [go.Scatter(x=x, y=a * np.sin(b * x), name="wave")]


_WAVE_CONTROLS = {"a": (0.5, 2.0, 0.5, 1.0), "b": (1, 3, 1, 2)}


def test_slider_explorer_is_live_under_a_kernel():
    e = widgets.slider_explorer(_waves, _WAVE_CONTROLS, label="amplitude a",
                                caption=lambda a, b: f"a = {a}, b = {b}",
                                layout={"yaxis": {"range": [-2, 2]}})
    assert isinstance(e, widgets.SliderExplorer)
    assert type(e.controls["a"]).__name__ == "FloatSlider"
    assert type(e.controls["b"]).__name__ == "IntSlider"          # all four ends are ints
    assert e.values() == {"a": 1.0, "b": 2} and e.caption.value == "a = 1.0, b = 2"
    np.testing.assert_allclose(_plotly_json_y(e.view), np.sin(2 * np.arange(10.0)), atol=1e-12)
    e.controls["a"].value = 2.0
    np.testing.assert_allclose(_plotly_json_y(e.view), 2 * np.sin(2 * np.arange(10.0)),
                               atol=1e-12)
    assert e.caption.value == "a = 2.0, b = 2"
    assert tuple(e.view.figure["layout"]["yaxis"]["range"]) == (-2, 2)
    with pytest.raises(ValueError, match="low <= start <= high"):
        widgets.slider_explorer(_waves, {"a": (0.5, 2.0, 0.5, 3.0)}, label="a")
    with pytest.raises(TypeError, match="controls"):
        widgets.slider_explorer(_waves, {"a": (0.5, 2.0)}, label="a")


def test_slider_explorer_in_the_book_is_a_static_slider_over_the_first_control(monkeypatch):
    from ipywidgets.widgets.widget import _instances
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    before = len(_instances)
    s = widgets.slider_explorer(_waves, _WAVE_CONTROLS, label="amplitude a",
                                caption=lambda a, b: "live only")
    assert len(_instances) == before and isinstance(s, widgets.StaticStandIn)
    fig = s.figure
    assert [f.name for f in fig.frames] == ["0.5", "1", "1.5", "2"]
    assert fig.layout.sliders[0].active == 1 and fig.layout.sliders[0].currentvalue.prefix \
        == "amplitude a = "
    np.testing.assert_allclose(fig.frames[3].data[0].y, 2 * np.sin(2 * np.arange(10.0)))
    assert set(s._repr_mimebundle_()) == {"text/html", "text/plain"}
    values = widgets.slider_explorer(_waves, _WAVE_CONTROLS, label="a", book_values=[1.0, 2.0])
    assert [f.name for f in values.figure.frames] == ["1", "2"]


# ----------------------------------------------------------------------------- live text

def _sample(temperature, seed, prefix):
    return f"{prefix}|{temperature:.2f}|{seed}"


_TEXT_CONTROLS = {"temperature": (0.0, 2.0, 0.05, 1.0), "seed": (0, 20, 1, 0), "prefix": "the "}


def test_live_text_recomputes_by_replacing_the_outputs():
    t = widgets.live_text(_sample, _TEXT_CONTROLS)
    assert isinstance(t, widgets.LiveText)
    assert [type(c).__name__ for c in t.controls.values()] == ["FloatSlider", "IntSlider",
                                                               "Text"]
    assert t.view.outputs == ({"output_type": "stream", "name": "stdout",
                               "text": "the |1.00|0"},)
    t.controls["prefix"].value = "a "
    t.controls["seed"].value = 3
    assert t.text == "a |1.00|3" and t.view.outputs[0]["text"] == "a |1.00|3"
    with pytest.raises(ValueError, match="low <= start <= high"):
        widgets.live_text(_sample, {"temperature": (0.0, 2.0, 0.05, 3.0)})
    with pytest.raises(TypeError, match="controls"):
        widgets.live_text(_sample, {})


def test_live_text_in_the_book_is_the_starting_text_and_no_widget(monkeypatch):
    from ipywidgets.widgets.widget import _instances
    monkeypatch.setenv(BOOK_BUILD_ENV, "1")
    before = len(_instances)
    t = widgets.live_text(_sample, _TEXT_CONTROLS)
    assert len(_instances) == before
    assert t._repr_mimebundle_() == {"text/plain": "the |1.00|0"}


# ----------------------------------------------------------------------------- chapter 5's claims

@pytest.mark.parametrize("seed", range(5))
def test_every_frame_of_chapter_5s_slider_obeys_the_bound(seed):
    # Chapter 5's explorer (T = 100, H = 64): on every frame of the book's slider, for all
    # four nonlinearities, ||dL/dh_k|| <= (gamma sigma)^(T-k); tanh needs sigma_max above 1
    # before its gradient stops vanishing (saturation), the sigmoid above 3.
    T, H = 100, 64
    first_not_vanishing = {}
    for activation in ex.ACTIVATION_CHOICES:
        for scale in ex.slider_scales():
            res = ex.explore(scale, T=T, hidden_size=H, activation=activation, seed=seed)
            log_bound = np.arange(T, -1, -1) * np.log10(res.gamma * res.sigma)
            p = res.profile
            assert not np.any(np.isnan(p))
            shown = np.isfinite(p) & (p > 0)
            shown[T] = False                                  # k = T: both are exactly 1
            excess = np.max(np.log10(p[shown]) - log_bound[shown])
            assert excess <= 1e-9, (activation, scale, excess)
            if res.verdict.kind != "vanishing":
                first_not_vanishing.setdefault(activation, scale)
    assert first_not_vanishing["tanh"] > 1.0, first_not_vanishing
    assert first_not_vanishing.get("sigmoid", np.inf) > 3.0, first_not_vanishing


def test_explore_builds_the_network_once_even_with_clipping(monkeypatch):
    # One W_hh and one draw of the inputs per call: the clipped profile and the spectrum
    # come from the same setup as the profile.
    calls = []
    real = ex.profile_setup
    monkeypatch.setattr(ex, "profile_setup", lambda *a, **k: calls.append(a) or real(*a, **k))
    res = ex.explore(1.5, 40, 8, "tanh", "gaussian", clip=0.5, seed=4)
    assert len(calls) == 1
    W_hh = real("rnn", 40, 8, 1.5, "tanh", "gaussian", 4, forget_bias=1.0)["W_hh"]
    assert res.eigenvalues[0] == pytest.approx(np.linalg.eigvals(W_hh))
    assert res.clipped == pytest.approx(gradient_profile("rnn", 40, 8, 1.5, "tanh", "gaussian",
                                                         4, forget_bias=1.0, clip=0.5))


# ----------------------------------------------------------------- cells side by side

def test_static_cell_explorer_frames_are_the_lstm_profiles_and_the_others_stay_put():
    biases = (-3.0, 0.0, 1.0, 3.0)
    fig = ev.static_cell_explorer(**SMALL, scales=(0.5, 1.0), forget_biases=biases,
                                  seed=3).figure()
    go.Figure(fig)                               # full validation of data, layout, frames
    assert [f.name for f in fig.frames] == ["-3", "0", "1", "3"]
    assert fig.layout.sliders[0].active == 2     # starts at forget bias 1
    names = [t.name for t in fig.data]
    # per scale: RNN and GRU (fixed), then the LSTM and its verdict line
    assert names == ["RNN (tanh)", "GRU", "LSTM", None] * 2
    for frame, b in zip(fig.frames, biases):
        assert list(frame.traces) == [2, 3, 6, 7]
        for scale, trace in ((0.5, frame.data[0]), (1.0, frame.data[2])):
            want = _log10(gradient_profile("lstm", 60, 16, scale, seed=3, forget_bias=b))
            np.testing.assert_allclose(np.asarray(trace.y, float), want, rtol=1e-6, atol=1e-4)
        assert f"forget bias {b:g}" in frame.data[1].text[0]
    for i, (cell, scale) in enumerate([("rnn", 0.5), ("gru", 0.5), ("rnn", 1.0), ("gru", 1.0)]):
        trace = fig.data[[0, 1, 4, 5][i]]
        want = _log10(gradient_profile(cell, 60, 16, scale, "tanh", seed=3))
        np.testing.assert_allclose(np.asarray(trace.y, float), want, rtol=1e-6, atol=1e-4)
    # the dropdown shows one scale's four traces at a time; the start is scale 1
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["weight scale 0.5", "weight scale 1"]
    assert menu.buttons[0].args[0]["visible"] == [True] * 4 + [False] * 4
    assert [t.visible for t in fig.data] == [False] * 4 + [True] * 4


def test_static_cell_explorer_default_is_small_and_shows_survival_and_vanishing():
    from rnn_tutor.plots import figure_html
    spec = ev.static_cell_explorer(T=100)
    assert len(spec["frames"]) == len(ev.FORGET_BIASES) == 33
    assert len(figure_html(spec)) < 250_000
    fig = go.Figure(spec)
    lstm = {f.name: np.asarray(f.data[f.traces.index(6)].y, float) for f in fig.frames}
    # with the start scale 1: the LSTM's gradient at k = 0 grows with its forget bias
    assert lstm["5"][0] > lstm["1"][0] > lstm["-3"][0]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(cells=("rnn", "gru")), ValueError, "lstm"),
    (dict(cells=("rnn", "cnn")), ValueError, "cell"),
    (dict(forget_biases=()), ValueError, "forget_biases"),
    (dict(forget_biases=(0.0, float("nan"))), ValueError, "forget_biases"),
    (dict(scales=()), ValueError, "scales"),
    (dict(start_scale=0.0), ValueError, "start_scale"),
])
def test_static_cell_explorer_names_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ev.static_cell_explorer(T=5, hidden_size=2, **kwargs)


@pytest.mark.browser
def test_static_cell_explorer_slider_and_dropdown_in_a_browser(browser, tmp_path):
    # The forget-bias slider swaps the LSTM's curve (not the others); the scale dropdown
    # shows another scale's curves, and the choice survives further slider moves.
    import shutil
    from pathlib import Path

    import plotly

    from rnn_tutor.plots import figure_html
    fig = ev.static_cell_explorer(**SMALL, scales=(0.5, 1.0), forget_biases=(-3.0, 1.0, 3.0))
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", tmp_path)
    page_file = tmp_path / "cells.html"
    page_file.write_text('<html><head><meta charset="utf-8"><script src="plotly.min.js">'
                         f'</script></head><body>{figure_html(fig, div_id="gc")}</body></html>',
                         encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.wait_for_function("() => { const gd = document.getElementById('gc');"
                           " return gd && gd._fullData && gd._transitionData &&"
                           " gd._transitionData._frames.length === 3; }")
    state = """() => { const gd = document.getElementById('gc');
        const arr = v => (v && v.bdata) ? Array.from(new Float32Array(Uint8Array.from(
            atob(v.bdata), c => c.charCodeAt(0)).buffer)) : Array.from(v).map(Number);
        return {visible: gd._fullData.map(t => t.visible === true),
                lstm_half: arr(gd.data[2].y), lstm_one: arr(gd.data[6].y),
                rnn_one: arr(gd.data[4].y),
                label: gd.querySelector('.slider-label').textContent}; }"""
    start = page.evaluate(state)
    assert start["label"] == "LSTM forget bias = 1"
    assert start["visible"] == [False] * 4 + [True] * 4

    rail = page.locator("#gc .slider-rail-rect").first
    grip = page.locator("#gc .slider-grip-rect").first
    rb, gb = rail.bounding_box(), grip.bounding_box()
    y = gb["y"] + gb["height"] / 2
    page.mouse.move(gb["x"] + gb["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(rb["x"] + 2, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    moved = page.evaluate(state)
    assert moved["label"] == "LSTM forget bias = -3"
    want = _log10(gradient_profile("lstm", 60, 16, 1.0, forget_bias=-3.0))
    np.testing.assert_allclose(moved["lstm_one"], want, rtol=1e-6, atol=1e-4)
    assert moved["rnn_one"] == start["rnn_one"]                   # the RNN has no forget gate

    page.locator("#gc .updatemenu-header-group").first.click()
    page.locator("#gc .updatemenu-item-text", has_text="weight scale 0.5").first.click()
    page.wait_for_timeout(300)
    assert page.evaluate(state)["visible"] == [True] * 4 + [False] * 4
    page.mouse.move(rb["x"] + 2, y)
    page.mouse.down()
    page.mouse.move(rb["x"] + rb["width"] - 2, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    back = page.evaluate(state)
    assert back["label"] == "LSTM forget bias = 3"
    assert back["visible"] == [True] * 4 + [False] * 4            # the choice survives
    want = _log10(gradient_profile("lstm", 60, 16, 0.5, forget_bias=3.0))
    np.testing.assert_allclose(back["lstm_half"], want, rtol=1e-6, atol=1e-4)
    assert errors == []
    page.close()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("scale_by", ["norm", "radius"])
def test_the_scaled_spectrum_is_the_spectrum_of_the_scaled_matrix(cell, scale_by):
    # explore() decomposes the matrix drawn at scale 1 and scales the result: the same as
    # decomposing each block of the W_hh it runs, at any scale.
    for scale in (0.3, 1.0, 2.7):
        res = ex.explore(scale, 20, 12, "tanh", "gaussian", cell, scale_by=scale_by, seed=3)
        W_hh = ex.profile_setup(cell, 20, 12, scale, "tanh", "gaussian", 3,
                                scale_by=scale_by)["W_hh"]
        blocks = W_hh.reshape(-1, 12, 12)
        for got, block in zip(res.eigenvalues, blocks):
            assert np.sort_complex(got) == pytest.approx(
                np.sort_complex(np.linalg.eigvals(block)), rel=1e-9, abs=1e-12), (cell, scale)
        assert res.sigma == pytest.approx(max(np.linalg.norm(b, 2) for b in blocks), rel=1e-12)
