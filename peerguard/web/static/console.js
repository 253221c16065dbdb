// PeerGuard staff console: keyboard shortcuts and transcript progress. Progressive enhancement
// only: every action is an ordinary form or link that works without this file.
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return event.altKey || event.ctrlKey || event.metaKey ||
      (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName) && t.type !== "submit" && t.tagName !== "BUTTON"));
  }

  function rows() {
    var page = document.body.getAttribute("data-page");
    if (page === "queue") return Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
    if (page === "item") return Array.prototype.slice.call(document.querySelectorAll("li.message"));
    return [];
  }

  var current = -1;
  function select(delta) {
    var list = rows();
    if (!list.length) return;
    if (current < 0) {
      current = list.findIndex(function (el) { return el.classList.contains("flagged"); });
      if (current < 0 || delta > 0 && document.body.getAttribute("data-page") === "queue") current = delta > 0 ? -1 : list.length;
    }
    current = Math.max(0, Math.min(list.length - 1, current + delta));
    list.forEach(function (el, i) {
      el.classList.toggle("selected", i === current);
      el.setAttribute("aria-current", i === current ? "true" : "false");
    });
    list[current].scrollIntoView({block: "nearest"});
  }

  document.addEventListener("keydown", function (event) {
    if (typing(event)) return;
    var key = event.key;
    if (key === "j" || key === "k") { select(key === "j" ? 1 : -1); event.preventDefault(); return; }
    if (key === "Enter" && document.body.getAttribute("data-page") === "queue" && current >= 0) {
      window.location.href = rows()[current].getAttribute("data-href");
      return;
    }
    var button = document.querySelector('button[data-key="' + key + '"]');
    if (button && !button.disabled) {
      event.preventDefault();
      var form = button.form;
      if (form && form.requestSubmit) form.requestSubmit(button); else button.click();
    }
  });

  // Transcript page: poll the status until the PDF is ready, then show the download link.
  var box = document.getElementById("transcript");
  if (box) {
    var url = box.getAttribute("data-status-url");
    var poll = function () {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (state) {
          document.getElementById("transcript-status").textContent = state.status;
          if (state.status === "done") {
            var bar = document.getElementById("transcript-waiting");
            if (bar) bar.hidden = true;
            document.getElementById("transcript-meta").textContent =
              (state.pages || "?") + " page(s), SHA-256 " + state.sha256;
            document.getElementById("transcript-done").hidden = false;
          } else if (state.status === "failed") {
            document.getElementById("transcript-status").textContent = "failed: " + (state.error || "");
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    var status = box.getAttribute("data-status");
    if (status === "pending" || status === "rendering") window.setTimeout(poll, 1000);
  }
})();
