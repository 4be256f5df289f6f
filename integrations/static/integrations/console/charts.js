// Throughput and order latency per hour, drawn with the vendored Chart.js (window.Chart) from
// the charts JSON endpoint. No inline script: the endpoint and span come from data attributes.
(function () {
  "use strict";

  const REFRESH_MS = 60 * 1000;
  const COLORS = { succeeded: "#417690", failed: "#ba2121", p50: "#417690", p95: "#d9a300" };

  function start() {
    const panel = document.getElementById("panel-charts");
    if (!panel) {
      return;
    }
    const status = document.getElementById("chart-status");
    if (typeof window.Chart === "undefined") {
      status.textContent = "The chart library did not load.";
      status.classList.add("failed");
      return;
    }
    const select = document.getElementById("chart-integration");
    const charts = {};

    function endpoint() {
      const params = new URLSearchParams({ hours: panel.dataset.hours });
      const slug = select ? select.value : panel.dataset.integration || "";
      if (slug) {
        params.set("integration", slug);
      }
      return panel.dataset.chartsUrl + "?" + params.toString();
    }

    function options(yTitle, stacked) {
      return {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, title: { display: true, text: yTitle } },
        },
      };
    }

    function draw(name, type, data, opts) {
      if (charts[name]) {
        charts[name].data = data;
        charts[name].update();
        return;
      }
      charts[name] = new window.Chart(document.getElementById("chart-" + name), {
        type: type,
        data: data,
        options: opts,
      });
    }

    function render(data) {
      draw(
        "throughput",
        "bar",
        {
          labels: data.labels,
          datasets: [
            { label: "Succeeded", data: data.succeeded, backgroundColor: COLORS.succeeded },
            { label: "Failed", data: data.failed, backgroundColor: COLORS.failed },
          ],
        },
        options("records per hour", true),
      );
      draw(
        "latency",
        "line",
        {
          labels: data.labels,
          datasets: [
            { label: "p50", data: data.latency_p50_seconds, borderColor: COLORS.p50,
              backgroundColor: COLORS.p50, spanGaps: false },
            { label: "p95", data: data.latency_p95_seconds, borderColor: COLORS.p95,
              backgroundColor: COLORS.p95, spanGaps: false },
          ],
        },
        options("seconds", false),
      );
      const orders = data.latency_count.reduce(function (a, b) { return a + b; }, 0);
      const finished = data.succeeded.concat(data.failed).reduce(function (a, b) { return a + b; }, 0);
      status.textContent = finished + " record(s) finished, " + orders + " order(s) timed; as of " +
        data.as_of.replace("T", " ").replace(/\+00:00$/, "") + " UTC.";
      status.classList.remove("failed");
      panel.dataset.loaded = data.as_of;
    }

    function load() {
      return fetch(endpoint(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(render)
        .catch(function (error) {
          status.textContent = "Could not load the charts (" + error.message + ").";
          status.classList.add("failed");
        });
    }

    if (select) {
      select.addEventListener("change", load);
    }
    load();
    window.setInterval(load, REFRESH_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
