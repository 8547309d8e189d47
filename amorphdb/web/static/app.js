// Draws every figure of the page: <div data-figure="ID"> with its JSON in <script id="figure-data-ID">.
"use strict";
function drawFigures() {
  document.querySelectorAll("[data-figure]").forEach(function (div) {
    var source = document.getElementById("figure-data-" + div.dataset.figure);
    if (!source) { return; }
    var fig = JSON.parse(source.textContent);
    Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false}).then(function () {
      div.dataset.rendered = "true";
    });
  });
}
document.addEventListener("DOMContentLoaded", function () {
  if (window.Plotly) { drawFigures(); }
});
