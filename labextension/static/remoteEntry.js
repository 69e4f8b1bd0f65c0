// rnn-tutor's JupyterLab extension: citations and glossary terms as the book prints them,
// and static plotly figures that follow JupyterLab's dark theme.
//
// Written by hand, without a build step: JupyterLab loads a federated extension by running
// this file and asking the container it registers for the modules named in package.json
// ("./extension" gives the plugins, "./style" the CSS). The plugin needs no JupyterLab
// token, so nothing is shared with JupyterLab's own modules.
//
// jupyterlab-myst 2.7 has no bibliography and sees no glossary outside the notebook: it
// renders every {cite} role as a "Citation Not Found" mark with the key
// (jupyter-book/jupyterlab-myst#127), and every {term} as a link to "#" whose hover card
// reports a missing target. For each such node this plugin reads the cell's source (the
// roles, in order, say which node is which) and writes what the book's Sphinx writes:
// "[BSF94, PMB13]" or "Pascanu et al. [PMB13]", the label linking to the DOI or arXiv page
// with the full reference as its tooltip; a term links to its entry in the online
// glossary, with the definition as its tooltip, and its hover card (which could only
// report the missing target) stays hidden. The data
// are citations.json and glossary.json (scripts/lab_data.py, from book/references.bib and
// book/glossary.md). The nodes are React's: they are changed in place (text emptied,
// attributes set, the citation appended), never removed, so React can still update or
// remove them; when it draws a node anew, the observer sees it and fills it again.
(function () {
  "use strict";

  const NAME = "rnn-tutor-lab";
  const CITE_MARK = '[title="Citation Not Found"]';
  const TERM_LINK = 'a.hover-link[href="#"]';
  const MISSING = `.jp-MarkdownCell ${CITE_MARK}, .jp-MarkdownCell ${TERM_LINK}`;
  // A MyST role whose name starts with "cite": {cite}`a,b`, {cite:t}`a`, {cite:p}`a` ...
  const ROLE = /\{(cite(?::[a-z]+)?)\}`([^`]*)`/g;
  // {term}`text` or {term}`text <Glossary entry>` (scripts/lab_data.py: TERM_ROLE)
  const TERM = /\{term\}`([^`<]*?)\s*(?:<([^>]*)>)?`/g;

  const here = new URL(".", document.currentScript.src);

  const CSS = `
.rnn-tutor-cites::before, .rnn-tutor-cites::after, .rnn-tutor-cites > ::after { content: none !important; }
.rnn-tutor-cite > svg { display: none; }
body:has(.rnn-tutor-term-trigger[data-state="open"]) [data-radix-popper-content-wrapper]:has(.hover-card-content) { display: none !important; }
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

  /** The citation marks of one rendered cell, matched in order to its roles' keys. */
  function fillCitations(node, source, bib) {
    const keys = [];
    roles(source).forEach((role) => role.keys.forEach((key, i) => keys.push({
      key, role, first: i === 0, last: i === role.keys.length - 1 })));
    let next = 0;
    for (const mark of node.querySelectorAll(CITE_MARK)) {
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

  /** The term links of one rendered cell, matched in order to its {term} roles. */
  function fillTerms(node, source, glossary) {
    const links = [...node.querySelectorAll(TERM_LINK)];
    let next = 0;
    for (const m of source.matchAll(TERM)) {
      const shown = m[1].trim();
      const entry = glossary[(m[2] || m[1]).trim().toLowerCase()];
      const at = links.findIndex((link, i) => i >= next && link.textContent.trim() === shown);
      if (at < 0) continue;                    // rendered before, or not a link here
      next = at + 1;
      if (!entry) continue;                    // a term the glossary lacks stays as it is
      const link = links[at];
      link.href = entry.link;
      link.target = "_blank";
      link.rel = "noopener";
      link.title = entry.text;
      link.classList.add("rnn-tutor-term");
      // The hover card would only say that the target is missing: the CSS hides it while
      // this trigger (the link's parent) is open. A click must not reach React, whose
      // handler would scroll to the missing target instead of following the link.
      link.parentElement.classList.add("rnn-tutor-term-trigger");
      link.parentElement.addEventListener("click", (event) => event.stopPropagation());
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

  function fillAll(app, bib, glossary) {
    if (!document.querySelector(MISSING)) return;
    for (const cell of markdownCells(app)) {
      if (!cell.node.querySelector(MISSING)) continue;
      const shared = cell.model.sharedModel;
      const source = shared.getSource ? shared.getSource() : shared.source;
      fillCitations(cell.node, source, bib);
      fillTerms(cell.node, source, glossary);
    }
  }

  const load = (name) => fetch(new URL(name, here)).then((response) => response.json());

  const references = {
    id: `${NAME}:references`,
    description: "Shows {cite} and {term} roles as the rnn-tutor book does.",
    autoStart: true,
    activate(app) {
      Promise.all([load("citations.json"), load("glossary.json")])
        .then(([bib, glossary]) => {
          let queued = false;
          const run = () => { queued = false; fillAll(app, bib, glossary); };
          new MutationObserver(() => {
            if (!queued) { queued = true; requestAnimationFrame(run); }
          }).observe(document.body, { childList: true, subtree: true });
          run();
        })
        .catch((error) => console.error(`${NAME}: no bibliography or glossary`, error));
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
    "./extension": () => ({ __esModule: true, default: [references] }),
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
