// The flow view refreshes itself: it asks the JSON endpoint (same selector as the page) for
// fresh counts and links every few seconds and writes them in place. No inline script: the
// endpoint's URL and the period come from data attributes (Content-Security-Policy 'self').
(function () {
  "use strict";

  function start() {
    const root = document.getElementById("flow-view");
    if (!root) {
      return;
    }
    const url = root.dataset.dataUrl;
    const every = Math.max(2, Number(root.dataset.refreshSeconds) || 10) * 1000;
    const asOf = document.getElementById("flows-as-of");
    const status = document.getElementById("flows-refresh-status");
    const boxes = new Map();
    const counts = new Map();
    root.querySelectorAll("[data-count]").forEach(function (el) {
      counts.set(el.dataset.count, el);
    });
    root.querySelectorAll("section.flow").forEach(function (section) {
      section.querySelectorAll("li.flow-step").forEach(function (box) {
        boxes.set(section.dataset.flowKey + ":" + box.dataset.step, box);
      });
    });

    function apply(data) {
      let unknown = false;
      data.flows.forEach(function (flow) {
        flow.steps.forEach(function (step) {
          const box = boxes.get(flow.key + ":" + step.step);
          if (!box) {
            unknown = true;
            return;
          }
          box.classList.toggle("has-failed", step.counts.failed.n > 0);
          box.classList.toggle("has-waiting", step.counts.waiting.n > 0);
          Object.keys(step.counts).forEach(function (kind) {
            const el = counts.get(flow.key + ":" + step.step + ":" + kind);
            const count = step.counts[kind];
            if (!el) {
              unknown = true;
              return;
            }
            el.querySelector(".n").textContent = String(count.n);
            el.href = count.url;
            el.classList.toggle("is-zero", count.n === 0);
          });
        });
      });
      if (unknown) {
        // A flow appeared since the page was drawn: draw the page again.
        window.location.reload();
        return;
      }
      asOf.textContent = data.as_of.replace("T", " ").replace(/\+00:00$/, "");
      root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
    }

    function refresh() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          apply(data);
          status.textContent = "";
          status.classList.remove("failed");
        })
        .catch(function (error) {
          // Logged out, server down: say so and keep trying; the figures shown are stale.
          status.textContent = " (refresh failed: " + error.message + "; showing older figures)";
          status.classList.add("failed");
        })
        .finally(function () {
          window.setTimeout(refresh, every);
        });
    }

    window.setTimeout(refresh, every);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
