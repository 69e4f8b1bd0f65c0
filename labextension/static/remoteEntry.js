// rnn-tutor's JupyterLab extension: citations as the book prints them, and static plotly
// figures that follow JupyterLab's dark theme.
//
// Written by hand, without a build step: JupyterLab loads a federated extension by running
// this file and asking the container it registers for the modules named in package.json
// ("./extension" gives the plugins, "./style" the CSS). The plugin needs no JupyterLab
// token, so nothing is shared with JupyterLab's own modules.
//
// Citations: jupyterlab-myst 2.7 has no bibliography and renders every {cite} role as a
// "Citation Not Found" mark with the key (jupyter-book/jupyterlab-myst#127). For each such
// mark this plugin reads the cell's source to learn the role ({cite} or {cite:t}) and the
// keys of each role, and writes what the book's sphinxcontrib-bibtex writes:
// "[BSF94, PMB13]" or "Pascanu et al. [PMB13]", the label linking to the DOI or arXiv page
// with the full reference as its tooltip. The labels and texts come from citations.json
// (scripts/lab_citations.py, from book/references.bib). The marks are React's nodes: they
// are changed in place (their own text emptied, the citation appended), never removed, so
// React can still update or remove them; when it draws a mark anew, the observer sees it
// and fills it again.
(function () {
  "use strict";

  const NAME = "rnn-tutor-lab";
  const MISSING = '.jp-MarkdownCell [title="Citation Not Found"]';
  // A MyST role whose name starts with "cite": {cite}`a,b`, {cite:t}`a`, {cite:p}`a` ...
  const ROLE = /\{(cite(?::[a-z]+)?)\}`([^`]*)`/g;
  const here = new URL(".", document.currentScript.src);

  const CSS = `
.rnn-tutor-cites::before, .rnn-tutor-cites::after, .rnn-tutor-cites > ::after { content: none !important; }
.rnn-tutor-cite > svg { display: none; }
/* plotly's JupyterLab renderer draws static figures on white whatever the theme: in a dark
   theme, invert their lightness and turn the hues back, so colours keep their meaning. */
body[data-jp-theme-light="false"] .jp-RenderedPlotly { filter: invert(0.88) hue-rotate(180deg); }
`;

  /** Each role in a markdown cell's source, in order: {narrative, keys}. */
  function roles(source) {
    const found = [];
    for (const m of source.matchAll(ROLE)) {
      const keys = m[2].split(/[,;]/).map((k) => k.trim()).filter(Boolean);
      found.push({ narrative: /:(t|ts)$/.test(m[1]), keys });
    }
    return found;
  }

  function labelNode(ref) {
    const node = document.createElement(ref.link ? "a" : "span");
    node.textContent = ref.label;
    node.title = ref.text;
    if (ref.link) {
      node.href = ref.link;
      node.target = "_blank";
      node.rel = "noopener";
    }
    return node;
  }

  /** What the book prints for one key of a role, with the role's brackets and commas. */
  function citation(ref, narrative, first, last) {
    const out = document.createElement("span");
    out.className = "rnn-tutor-cite-text";
    const text = (s) => out.append(document.createTextNode(s));
    if (!first) text(", ");
    if (narrative) {
      text(ref.author + " ");
      if (ref.et_al) {
        const em = document.createElement("em");
        em.textContent = "et al.";
        out.append(em, document.createTextNode(" "));
      }
      text("[");
    } else if (first) {
      text("[");
    }
    out.append(labelNode(ref));
    if (narrative || last) text("]");
    return out;
  }

  function fill(mark, ref, narrative, first, last) {
    for (const child of mark.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) child.data = "";
    }
    mark.removeAttribute("title");
    mark.classList.remove("text-yellow-600");
    mark.classList.add("rnn-tutor-cite");
    mark.append(citation(ref, narrative, first, last));
  }

  /** The marks of one rendered cell, matched in order to its roles' keys. */
  function fillCell(node, source, bib) {
    const keys = [];
    roles(source).forEach((role) => role.keys.forEach((key, i) => keys.push({
      key, role, first: i === 0, last: i === role.keys.length - 1 })));
    let next = 0;
    for (const mark of node.querySelectorAll('[title="Citation Not Found"]')) {
      const key = mark.textContent.trim();
      while (next < keys.length && keys[next].key !== key) next++;
      if (next === keys.length) return;        // not from a role we can read: leave it
      const { role, first, last } = keys[next++];
      const ref = bib[key];
      if (!ref) continue;                      // a key the bibliography lacks stays marked
      if (role.keys.length > 1 && mark.parentElement.classList.contains("cite-group")) {
        mark.parentElement.classList.add("rnn-tutor-cites");
      }
      fill(mark, ref, role.narrative, first, last);
    }
  }

  function* markdownCells(app) {
    for (const widget of app.shell.widgets("main")) {
      const cells = widget.content && widget.content.widgets;
      if (!cells) continue;
      for (const cell of cells) {
        if (cell.model && cell.model.type === "markdown") yield cell;
      }
    }
  }

  function fillAll(app, bib) {
    if (!document.querySelector(MISSING)) return;
    for (const cell of markdownCells(app)) {
      if (!cell.node.querySelector(MISSING)) continue;
      const shared = cell.model.sharedModel;
      fillCell(cell.node, shared.getSource ? shared.getSource() : shared.source, bib);
    }
  }

  const citations = {
    id: `${NAME}:citations`,
    description: "Shows {cite} roles as the rnn-tutor book does, from its bibliography.",
    autoStart: true,
    activate(app) {
      fetch(new URL("citations.json", here))
        .then((response) => response.json())
        .then((bib) => {
          let queued = false;
          const run = () => { queued = false; fillAll(app, bib); };
          new MutationObserver(() => {
            if (!queued) { queued = true; requestAnimationFrame(run); }
          }).observe(document.body, { childList: true, subtree: true });
          run();
        })
        .catch((error) => console.error(`${NAME}: no bibliography`, error));
    },
  };

  function addStyle() {
    const style = document.createElement("style");
    style.id = `${NAME}-style`;
    style.textContent = CSS;
    document.head.append(style);
    return {};
  }

  const modules = {
    // JupyterLab reads `default` only from a module marked as an ES module.
    "./extension": () => ({ __esModule: true, default: [citations] }),
    "./style": addStyle,
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = {
    init() {},
    get(module) {
      return modules[module] ? Promise.resolve(modules[module])
        : Promise.reject(new Error(`${NAME} has no module ${module}`));
    },
  };
})();
