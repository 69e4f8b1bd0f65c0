// Plotly figures for every reader: in the page's colours (dark when the theme is dark,
// plotly's own light colours otherwise, switched again whenever the reader flips the
// theme), and with titles that fit a phone's width.
(function () {
  "use strict";
  var DARK = {
    paper_bgcolor: "#121212", plot_bgcolor: "#1e2327", "font.color": "#ced6dd",
    axis: {gridcolor: "#3b4249", zerolinecolor: "#5c6670", linecolor: "#5c6670"},
    menu: {bgcolor: "#2a3038", bordercolor: "#5c6670", "font.color": "#ced6dd"},
    slider: {bgcolor: "#2a3038", activebgcolor: "#4a5560", bordercolor: "#5c6670",
             "font.color": "#ced6dd", tickcolor: "#ced6dd"},
    legend: {bgcolor: "rgba(0,0,0,0)"}
  };

  function isDark() {
    return document.documentElement.dataset.theme === "dark";
  }

  // The layout keys this script sets, with the dark value of each, for one figure.
  function darkUpdate(gd) {
    var layout = gd.layout || {}, update = {
      paper_bgcolor: DARK.paper_bgcolor, plot_bgcolor: DARK.plot_bgcolor,
      "font.color": DARK["font.color"], "legend.bgcolor": DARK.legend.bgcolor
    };
    Object.keys(gd._fullLayout || {}).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) {
        Object.keys(DARK.axis).forEach(function (k) { update[key + "." + k] = DARK.axis[k]; });
      }
    });
    (layout.updatemenus || []).forEach(function (_, i) {
      Object.keys(DARK.menu).forEach(function (k) {
        update["updatemenus[" + i + "]." + k] = DARK.menu[k];
      });
    });
    (layout.sliders || []).forEach(function (_, i) {
      Object.keys(DARK.slider).forEach(function (k) {
        update["sliders[" + i + "]." + k] = DARK.slider[k];
      });
    });
    return update;
  }

  // The figure's own value of a dotted key ("xaxis.gridcolor", "sliders[0].bgcolor").
  function own(layout, key) {
    return key.split(".").reduce(function (obj, part) {
      if (obj === undefined || obj === null) { return undefined; }
      var m = /^(\w+)\[(\d+)\]$/.exec(part);
      return m ? (obj[m[1]] || [])[+m[2]] : obj[part];
    }, layout);
  }

  function recolour(gd) {
    if (!window.Plotly || !gd._fullLayout) { return; }
    var dark = isDark();
    if (!!gd.__rnnDark === dark) { return; }
    var update = darkUpdate(gd);
    if (!gd.__rnnLight) {     // the figure's own colours, to restore (null = plotly default)
      gd.__rnnLight = {};
      Object.keys(update).forEach(function (key) {
        var value = own(gd.layout, key);
        gd.__rnnLight[key] = value === undefined ? null : value;
      });
    }
    gd.__rnnDark = dark;
    window.Plotly.relayout(gd, dark ? update : gd.__rnnLight);
  }

  function recolourAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(recolour);
  }

  // On a narrow screen (a phone) long titles are wrapped onto several lines, measured in
  // the title's own font, so that no title runs past the figure's edge; the figure's own
  // titles come back when the window is wide again.
  var measure = document.createElement("canvas").getContext("2d");

  function wrapToWidth(text, width, el) {
    var style = window.getComputedStyle(el), lines = [], line = "";
    measure.font = style.fontWeight + " " + style.fontSize + " " + style.fontFamily;
    text.split(/<br\s*\/?>/i).forEach(function (part) {
      part.split(" ").forEach(function (word) {
        var candidate = line ? line + " " + word : word;
        if (line && measure.measureText(candidate.replace(/<[^>]+>/g, "")).width > width) {
          lines.push(line);
          line = word;
        } else {
          line = candidate;
        }
      });
      lines.push(line);
      line = "";
    });
    return lines;
  }

  function titleText(title) {
    return typeof title === "string" ? title : (title && title.text) || "";
  }

  function fitTitles(gd) {
    var full = gd._fullLayout;
    if (!window.Plotly || !full || gd.__rnnFitting) { return; }
    gd.__rnnFitted = false;
    var layout = gd.layout;
    if (!gd.__rnnTitles) {
      gd.__rnnTitles = {"title.text": titleText(layout.title),
                        "margin.t": (layout.margin || {}).t === undefined ? null
                                    : layout.margin.t};
      Object.keys(layout).forEach(function (key) {
        if (/^xaxis\d*$/.test(key)) {
          gd.__rnnTitles[key + ".title.text"] = titleText(layout[key].title);
        }
      });
    }
    var original = gd.__rnnTitles, update = {}, changed = false;
    // A dropdown in the title's band (the top margin) takes its share of the width: the
    // title is wrapped to the left of it.
    var box = gd.getBoundingClientRect(), menuLeft = full.width;
    gd.querySelectorAll(".updatemenu-header-group").forEach(function (menu) {
      var r = menu.getBoundingClientRect();
      if (r.width && r.top - box.top < full.margin.t) {
        menuLeft = Math.min(menuLeft, r.left - box.left);
      }
    });
    Object.keys(original).forEach(function (key) {
      if (key === "margin.t" || !original[key]) { return; }
      var el = key === "title.text" ? gd.querySelector(".gtitle")
        : gd.querySelector("." + key.split(".")[0].replace("axis", "") + "title");
      if (!el) { return; }
      var beside = key === "title.text" && menuLeft < full.width;
      var room = (key === "title.text" ? (beside ? menuLeft : full.width)
                  : full.width - full.margin.l - full.margin.r) - 24;
      var lines = wrapToWidth(original[key], room, el), text = lines.join("<br>");
      if (text !== titleText(own(layout, key.replace(".text", "")))) {
        update[key] = text;
        changed = true;
      }
      if (key === "title.text") {
        var extra = (lines.length - 1) * parseFloat(window.getComputedStyle(el).fontSize) * 1.25;
        var top = (original["margin.t"] === null ? 100 : original["margin.t"]) + extra;
        if (lines.length > 1 || original["margin.t"] !== null) {
          if (full.margin.t !== top) { update["margin.t"] = top; changed = true; }
        }
        if (lines.length > 1) {
          update["title.x"] = beside ? 0.02 : 0.5;
          update["title.xanchor"] = beside ? "left" : "center";
        }
      }
    });
    // A legend that runs past the figure's edge moves to the plot's left edge, in a
    // smaller font; it goes back where the figure put it once the window is wide again.
    var legend = gd.querySelector(".legend");
    if (legend && !gd.__rnnLegend) {
      gd.__rnnLegend = {"legend.x": own(layout, "legend.x"),
                        "legend.xanchor": own(layout, "legend.xanchor"),
                        "legend.font.size": own(layout, "legend.font.size")};
      Object.keys(gd.__rnnLegend).forEach(function (k) {
        if (gd.__rnnLegend[k] === undefined) { gd.__rnnLegend[k] = null; }
      });
    }
    if (legend) {
      var outside = Array.prototype.some.call(gd.querySelectorAll(".legendtext"),
        function (t) {
          var r = t.getBoundingClientRect();
          return r.width && (r.right > box.right + 1 || r.left < box.left - 1);
        });
      if (outside && !gd.__rnnLegendMoved) {
        update["legend.x"] = 0;
        update["legend.xanchor"] = "left";
        update["legend.font.size"] = 11;
        gd.__rnnLegendMoved = changed = true;
      } else if (gd.__rnnLegendMoved && full.width >= 560) {
        Object.assign(update, gd.__rnnLegend);
        gd.__rnnLegendMoved = false;
        changed = true;
      }
    }
    if (!changed) { gd.__rnnFitted = true; return; }
    gd.__rnnFitting = true;
    // Once redrawn, look again: a wrapped title or a recoloured figure can move the legend.
    var done = function () { gd.__rnnFitting = false; fitTitles(gd); };
    window.Plotly.relayout(gd, update).then(done, done);
  }

  function fitAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(fitTitles);
  }

  // Figures are drawn by their own scripts, possibly after this one runs: each is
  // adapted once it has been drawn.
  function watchFigures() {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      if (gd.__rnnSeen || !gd._fullLayout) { return; }
      gd.__rnnSeen = true;
      recolour(gd);
      fitTitles(gd);
      // Refit whenever the figure's width changes (a scrollbar or the sidebar can change
      // it without the window being resized).
      if (window.ResizeObserver) {
        var width = gd.getBoundingClientRect().width, timer;
        new ResizeObserver(function () {
          var now = gd.getBoundingClientRect().width;
          if (Math.abs(now - width) < 1) { return; }
          width = now;
          gd.__rnnFitted = false;
          clearTimeout(timer);
          timer = setTimeout(function () { fitTitles(gd); }, 100);
        }).observe(gd);
      }
    });
  }

  // Boxes that scroll sideways (wide tables and formulas on a phone) take the keyboard
  // focus, so that they can be scrolled without a mouse.
  function focusableScrollers() {
    document.querySelectorAll(".bd-article table, table.indextable, div.math, " +
                              "mjx-container").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1 &&
        /(auto|scroll)/.test(window.getComputedStyle(el).overflowX);
      if (scrolls && !el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "0"); }
    });
  }

  function start() {
    focusableScrollers();
    watchFigures();
    new MutationObserver(recolourAll).observe(document.documentElement,
      {attributes: true, attributeFilter: ["data-theme"]});
    var resized;
    window.addEventListener("resize", function () {   // plotly resizes the figures first
      clearTimeout(resized);
      resized = setTimeout(function () { fitAll(); focusableScrollers(); }, 150);
    });
    // Figures finish drawing asynchronously; catch the ones that were not ready yet.
    var tries = 0, timer = setInterval(function () {
      watchFigures();
      if (++tries > 20) { clearInterval(timer); }
    }, 250);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
