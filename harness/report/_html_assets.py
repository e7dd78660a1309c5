"""The stylesheet and script inlined into matrix.html.

Inline, because the page must open from a CI artifact, an e-mail attachment or a file:// URL
with no network: nothing is fetched, and the page's Content-Security-Policy forbids fetching.
The script is optional: without it, `:target` still shows a cell's evidence.
"""

from __future__ import annotations

CSS = """
:root { color-scheme: light; --pass: #1e8e3e; --pass-bg: #e6f4ea; --dev: #b06000;
  --dev-bg: #fef3e0; --err: #c5221f; --err-bg: #fce8e6; --info: #1967d2; --info-bg: #e8f0fe;
  --inc: #5f6368; --inc-bg: #eceff1;
  --line: #dadce0; --muted: #5f6368; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  padding: 16px 24px; color: #202124; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
h3 { font-size: 16px; margin: 0; }
h4 { font-size: 13px; margin: 14px 0 4px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 12.5px; }
.meta, .muted { color: var(--muted); }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f8f9fa; font-weight: 600; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) minmax(420px, 34%); gap: 28px;
  align-items: start; }
.layout > .main { min-width: 0; }
@media (max-width: 1000px) { .layout { grid-template-columns: 1fr; } }
.scroll-x { overflow-x: auto; }
.grid td.cell { padding: 0; white-space: nowrap; }
.nowrap { white-space: nowrap; }
.grid .differs { font-weight: bold; color: #b3261e; }
.grid td.cell a { display: block; padding: 5px 10px; color: inherit; text-decoration: none; }
.grid td.cell a:hover, .grid td.cell a:focus { outline: 2px solid #1a73e8; outline-offset: -2px; }
.grid td.selected { box-shadow: inset 0 0 0 3px #1a73e8; }
.grid th.scenario { font-weight: 500; white-space: nowrap; }
.v-pass { background: var(--pass-bg); } .v-deviation { background: var(--dev-bg); }
.v-error { background: var(--err-bg); } .v-info { background: var(--info-bg); }
.v-na { color: var(--muted); }
.v-inconclusive { background: var(--inc-bg); }
.v-missing { background: #f1f3f4; color: var(--muted); }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border-radius: 3px; }
#panel { position: sticky; top: 8px; max-height: calc(100vh - 16px); overflow: auto;
  border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; background: #fff; }
#panel-hint { color: var(--muted); margin: 0; }
.evidence { display: none; }
.evidence.open, .evidence:target { display: block; }
.evidence header { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.evidence header .close { margin-left: auto; text-decoration: none; color: var(--muted);
  font-size: 18px; }
.badge { border-radius: 3px; padding: 0 8px; font-weight: 600; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.harness-error { background: var(--err-bg); color: var(--err); padding: 6px 10px;
  border-radius: 4px; white-space: pre-wrap; }
.evidence table { width: 100%; font-size: 13px; }
.evidence td.mono { word-break: break-all; }
.evidence pre { background: #f8f9fa; border: 1px solid var(--line); padding: 6px 8px;
  white-space: pre-wrap; word-break: break-all; margin: 0; }
.o-pass { color: var(--pass); } .o-deviation { color: var(--dev); font-weight: 700; }
.o-inconclusive { color: var(--inc); font-style: italic; }
.o-not-applicable { color: var(--muted); } .o-info { color: var(--info); }
.r-2xx { color: var(--pass); } .r-4xx { color: var(--dev); } .r-5xx { color: var(--err); }
.r-none { color: var(--muted); font-style: italic; }
.none { color: var(--muted); font-style: italic; }
.timeline { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
.tl-row0 { fill: #fff; } .tl-row1 { fill: #f8f9fa; }
.tl-axis { stroke: #80868b; } .tl-grid { stroke: #e8eaed; }
.tl-tick { fill: var(--muted); text-anchor: middle; }
.tl-caption { fill: var(--muted); text-anchor: end; }
.tl-label { text-anchor: end; fill: #202124; } a .tl-label { fill: #1a73e8; }
.tl-observed { fill: #e8eaed; }
.tl-attempt { stroke-width: 2; } .tl-2xx { stroke: var(--pass); } .tl-4xx { stroke: #e37400; }
.tl-5xx { stroke: var(--err); } .tl-none, .tl-other { stroke: #80868b; stroke-dasharray: 2 2; }
.tl-dsn { fill: #8430ce; } .tl-bounce { stroke: var(--err); stroke-width: 2; fill: none; }
.tl-error { fill: var(--err); } .tl-empty { fill: var(--muted); }
.tl-legend { display: flex; gap: 16px; flex-wrap: wrap; color: var(--muted); font-size: 12px; }
.tl-legend svg { vertical-align: middle; }
.target-schedule { margin: 0 0 22px; }
.target-schedule figcaption { display: flex; gap: 10px; align-items: baseline; }
.target-schedule table { margin-top: 6px; }
"""

# Opens the evidence of the cell named by the URL fragment (#cell-<scenario>-<target>), so a
# cell is linkable and the back button walks through the cells looked at. Clicks on cell links
# push the fragment themselves: the browser's own jump to the fragment would scroll the sticky
# panel's page away from the grid at every click.
JS = """
"use strict";
(function () {
  var hint = document.getElementById("panel-hint");
  var wide = window.matchMedia("(min-width: 1001px)");
  function select(keepGridInView) {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var previous = document.querySelectorAll(".evidence.open, .grid td.selected");
    for (var i = 0; i < previous.length; i++) {
      previous[i].classList.remove("open");
      previous[i].classList.remove("selected");
    }
    var evidence = id ? document.getElementById(id) : null;
    var found = evidence !== null && evidence.classList.contains("evidence");
    var cell = null;
    if (found) {
      evidence.classList.add("open");
      var cells = document.querySelectorAll(".grid td[data-cell]");
      for (var j = 0; j < cells.length; j++) {
        if (cells[j].getAttribute("data-cell") === id) { cell = cells[j]; }
      }
      if (cell) { cell.classList.add("selected"); }
      var panel = document.getElementById("panel");
      if (panel) { panel.scrollTop = 0; }
    }
    if (hint) { hint.hidden = found; }
    if (keepGridInView && wide.matches) {
      window.scrollTo(0, 0);
      if (cell) { cell.scrollIntoView({block: "nearest"}); }
    } else if (found && !wide.matches) {
      evidence.scrollIntoView({block: "start"});
    }
  }
  document.addEventListener("click", function (event) {
    var target = event.target;
    var link = target && target.closest ? target.closest("a[href^='#']") : null;
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) {
      return;
    }
    var href = link.getAttribute("href");
    if (href !== "#" && href.indexOf("#cell-") !== 0) { return; }
    event.preventDefault();
    var url = href === "#" ? window.location.pathname + window.location.search : href;
    window.history.pushState(null, "", url);
    select(false);
  });
  window.addEventListener("popstate", function () { select(false); });
  window.addEventListener("hashchange", function () { select(false); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && window.location.hash) {
      window.history.pushState(null, "", window.location.pathname + window.location.search);
      select(false);
    }
  });
  select(true);
  // Opened with a fragment: the browser jumps to the evidence after loading; in the side by
  // side layout bring the grid back instead (the panel is sticky, so it stays in view).
  window.addEventListener("load", function () { select(true); });
  document.body.setAttribute("data-ready", "true");
})();
"""
