// Callscope reports: draws the dashboard's charts from /v1/reports/* (same filters as the page), and lets the
// contact page's turns seek the recording. No inline scripts (the pages send a strict CSP); text goes in with
// textContent, never innerHTML.
(function () {
  "use strict";
  const body = document.body;
  const query = body.dataset.query || "";
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const palette = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#64748b"];

  function api(name) {
    return fetch("/v1/reports/" + name + (query ? "?" + query : ""), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error(name + ": HTTP " + response.status);
      return response.json();
    });
  }

  function hasData(traces) {
    return traces.some(function (t) { return (t.x || []).length || (t.y || []).length; });
  }

  // Plotly reads a subset of HTML in labels (<a href>, <b>): every string from the data is shown as text instead,
  // so an agent, queue or intent name can never become a link or markup inside a chart.
  function asText(value) {
    if (typeof value === "string") {
      return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    }
    if (Array.isArray(value)) return value.map(asText);
    return value;
  }

  function textOnly(trace) {
    const safe = Object.assign({}, trace);
    ["x", "y", "text", "labels", "name", "hovertext", "ids", "parents"].forEach(function (field) {
      if (field in safe) safe[field] = asText(safe[field]);
    });
    return safe;
  }

  function plot(id, traces, layout) {
    traces = traces.map(textOnly);
    const el = document.getElementById(id);
    if (!el) return Promise.resolve();
    if (!hasData(traces)) {
      el.textContent = "No data for these filters.";
      el.classList.add("empty");
      el.dataset.rendered = "empty";
      return Promise.resolve();
    }
    const base = {
      margin: { t: 10, r: 50, b: 80, l: 60 },
      height: 320,
      legend: { orientation: "h", y: -0.3 },
      colorway: palette,
      font: { size: 11 },
    };
    return Plotly.newPlot(el, traces, Object.assign(base, layout || {}), config).then(function () {
      el.dataset.rendered = "true";
    });
  }

  function fail(id, error) {
    const el = document.getElementById(id);
    if (el) {
      el.textContent = "Could not load: " + error.message;
      el.dataset.rendered = "error";
    }
  }

  // rows [{period, <key>, contacts}] -> one stacked bar trace per key
  function stacked(rows, key) {
    const groups = {};
    rows.forEach(function (r) {
      (groups[r[key]] = groups[r[key]] || { x: [], y: [] });
      groups[r[key]].x.push(r.period);
      groups[r[key]].y.push(r.contacts);
    });
    return Object.keys(groups).sort().map(function (name) {
      return { type: "bar", name: name, x: groups[name].x, y: groups[name].y };
    });
  }

  function pluck(rows, key) { return rows.map(function (r) { return r[key]; }); }

  function volume(data) {
    return Promise.all([
      plot("chart-volume-channel", stacked(data.by_channel, "channel"), { barmode: "stack", yaxis: { title: "contacts" } }),
      plot("chart-volume-intent", stacked(data.by_intent, "intent"), { barmode: "stack", yaxis: { title: "contacts" } }),
      plot("chart-categories", [{ type: "bar", x: pluck(data.by_category, "category"), y: pluck(data.by_category, "contacts"),
        name: "contacts" }], { yaxis: { title: "contacts" } }),
    ]);
  }

  function handleTime(data) {
    const byMedian = data.by_intent.slice(0, 15);
    const ranked = data.by_intent.slice(0, 15).reverse();
    return Promise.all([
      plot("chart-handle-intent", [
        { type: "bar", name: "median", x: pluck(byMedian, "intent"), y: pluck(byMedian, "median_s") },
        { type: "bar", name: "p90", x: pluck(byMedian, "intent"), y: pluck(byMedian, "p90_s") },
      ], { barmode: "group", yaxis: { title: "seconds" } }),
      plot("chart-cost-intent", [{
        type: "bar", orientation: "h", name: "hours",
        y: pluck(ranked, "intent"), x: ranked.map(function (r) { return (r.total_s || 0) / 3600; }),
        text: ranked.map(function (r) { return r.share_of_time ? Math.round(r.share_of_time * 100) + "%" : ""; }),
        textposition: "auto",
      }], { margin: { t: 10, r: 20, b: 40, l: 220 }, xaxis: { title: "hours of handling" } }),
    ]);
  }

  function predicted(data) {
    const points = data.points;
    const top = Math.max.apply(null, [1].concat(pluck(points, "actual_s"), pluck(points, "predicted_s")));
    return Promise.all([
      plot("chart-predicted", [
        { type: "scatter", mode: "markers", name: "contacts", x: pluck(points, "predicted_s"), y: pluck(points, "actual_s"),
          text: pluck(points, "intent"), marker: { size: 5, opacity: 0.5 } },
        { type: "scatter", mode: "lines", name: "actual = predicted", x: [0, top], y: [0, top],
          line: { dash: "dot", color: "#64748b" } },
      ], { xaxis: { title: "predicted p50 (s)" }, yaxis: { title: "actual (s)" } }),
      plot("chart-predicted-trend", [
        { type: "scatter", mode: "lines", name: "predicted mean", x: pluck(data.by_day, "period"), y: pluck(data.by_day, "predicted_mean_s") },
        { type: "scatter", mode: "lines", name: "actual mean", x: pluck(data.by_day, "period"), y: pluck(data.by_day, "actual_mean_s") },
        { type: "scatter", mode: "lines", name: "mean absolute error", x: pluck(data.by_day, "period"), y: pluck(data.by_day, "mae_s"),
          line: { dash: "dot" } },
      ], { yaxis: { title: "seconds" } }),
    ]);
  }

  function sentiment(data) {
    const d = data.by_day;
    return plot("chart-sentiment", [
      { type: "scatter", mode: "lines", name: "mean", x: pluck(d, "period"), y: pluck(d, "mean") },
      { type: "scatter", mode: "lines", name: "start of contact", x: pluck(d, "period"), y: pluck(d, "start"), line: { dash: "dot" } },
      { type: "scatter", mode: "lines", name: "end of contact", x: pluck(d, "period"), y: pluck(d, "end"), line: { dash: "dash" } },
      { type: "bar", name: "negative share", x: pluck(d, "period"), y: pluck(d, "negative"), yaxis: "y2", opacity: 0.3 },
    ], { yaxis: { title: "sentiment (-1..1)", range: [-1, 1] },
         yaxis2: { title: "negative", overlaying: "y", side: "right", range: [0, 1], tickformat: ".0%" } });
  }

  function people(id, rows, key) {
    return plot(id, [
      { type: "bar", name: "median handling (s)", x: pluck(rows, key), y: pluck(rows, "median_s") },
      { type: "scatter", mode: "markers", name: "transfer rate", x: pluck(rows, key), y: pluck(rows, "transfer_rate"),
        yaxis: "y2", marker: { size: 9, symbol: "diamond" } },
      { type: "scatter", mode: "markers", name: "repeat rate", x: pluck(rows, key), y: pluck(rows, "repeat_rate"),
        yaxis: "y2", marker: { size: 9, symbol: "circle-open" } },
    ], { yaxis: { title: "seconds" },
         yaxis2: { title: "rate", overlaying: "y", side: "right", rangemode: "tozero", tickformat: ".0%" } });
  }

  function queuesAgents(data) {
    const agents = data.agents.slice().sort(function (a, b) { return (b.median_s || 0) - (a.median_s || 0); }).slice(0, 25);
    return Promise.all([people("chart-queues", data.queues, "queue"), people("chart-agents", agents, "agent")]);
  }

  function conversation(data) {
    const rows = data.by_agent.slice(0, 25);
    const t = data.thresholds;
    const colour = function (value, limit, high, low) { return rows.map(function (r) { return (r[value] || 0) > limit ? high : low; }); };
    const drawn = plot("chart-conversation", [
      { type: "bar", name: "silence share", x: pluck(rows, "agent"), y: pluck(rows, "silence_ratio"),
        marker: { color: colour("silence_ratio", t.silence_ratio, "#dc2626", "#93c5fd") } },
      { type: "bar", name: "overtalk share", x: pluck(rows, "agent"), y: pluck(rows, "overtalk_ratio"),
        marker: { color: colour("overtalk_ratio", t.overtalk_ratio, "#f97316", "#c4b5fd") } },
    ], {
      barmode: "group", yaxis: { title: "share of the call", tickformat: ".0%" },
      shapes: [
        { type: "line", xref: "paper", x0: 0, x1: 1, y0: t.silence_ratio, y1: t.silence_ratio, line: { color: "#dc2626", dash: "dot" } },
        { type: "line", xref: "paper", x0: 0, x1: 1, y0: t.overtalk_ratio, y1: t.overtalk_ratio, line: { color: "#f97316", dash: "dot" } },
      ],
    });
    const tbody = document.querySelector("#worst-contacts tbody");
    if (tbody) {
      data.contacts.forEach(function (c) {
        const tr = document.createElement("tr");
        const link = document.createElement("a");
        link.href = "/reports/contacts/" + encodeURIComponent(c.id);
        link.textContent = c.id.slice(0, 8);
        link.className = "contact-link";
        const first = document.createElement("td");
        first.appendChild(link);
        tr.appendChild(first);
        [c.agent, c.queue, c.intent, pct(c.silence_ratio), (c.longest_silence_s || 0) + " s", pct(c.overtalk_ratio)].forEach(function (v) {
          const td = document.createElement("td");
          td.textContent = v == null ? "" : v;
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      });
    }
    return drawn;
  }

  function quality(data) {
    const agreement = document.getElementById("qa-agreement");
    if (agreement) {
      const o = data.overall;
      agreement.textContent = o.reviewed_answers
        ? "(agreement with supervisors: " + pct(o.agreement) + " of " + o.reviewed_answers + " reviewed answers)"
        : "(no answers reviewed by supervisors yet)";
      agreement.dataset.agreement = o.agreement == null ? "" : String(o.agreement);
    }
    const bar = function (rows, key, name) {
      return { type: "bar", orientation: "h", name: name || "score", y: pluck(rows, key), x: pluck(rows, "score"),
               text: rows.map(function (r) { return r.contacts + " contacts"; }) };
    };
    const questions = data.by_question;
    const lines = {};
    data.by_question_period.forEach(function (r) {
      if (r.yes_share == null) return;
      lines[r.question] = lines[r.question] || { type: "scatter", mode: "lines+markers", name: r.question, x: [], y: [] };
      lines[r.question].x.push(r.period);
      lines[r.question].y.push(r.yes_share * 100);
    });
    return Promise.all([
      plot("chart-qa-question-trend", Object.keys(lines).sort().map(function (k) { return lines[k]; }),
        { yaxis: { title: "% answered yes", range: [0, 105] } }),
      plot("chart-qa-trend", [{ type: "scatter", mode: "lines+markers", name: "mean score", x: pluck(data.by_day, "period"),
        y: pluck(data.by_day, "score") }], { yaxis: { title: "score", range: [0, 100] } }),
      plot("chart-qa-agents", [bar(data.by_agent.slice(0, 25), "agent")],
        { xaxis: { title: "score", range: [0, 100] }, margin: { t: 10, r: 20, b: 40, l: 140 } }),
      plot("chart-qa-groups", [bar(data.by_queue, "queue", "queues"), bar(data.by_intent.slice(0, 15), "intent", "intents")],
        { xaxis: { title: "score", range: [0, 100] }, margin: { t: 10, r: 20, b: 60, l: 220 } }),
      plot("chart-qa-questions", [
        { type: "bar", name: "answered yes", x: pluck(questions, "question"), y: questions.map(function (q) { return q.yes_share == null ? null : q.yes_share * 100; }) },
        { type: "scatter", mode: "markers", name: "agreement", x: pluck(questions, "question"), y: questions.map(function (q) { return q.agreement == null ? null : q.agreement * 100; }), marker: { size: 12 } },
      ], { yaxis: { title: "%", range: [0, 105] } }),
    ]);
  }

  function repeats(data) {
    const overall = document.getElementById("fcr-overall");
    if (overall) {
      const o = data.overall;
      overall.textContent = o.contacts ? "(first-contact resolution " + pct(o.fcr) + " of " + o.contacts + " contacts of known customers)" : "";
      overall.dataset.fcr = o.fcr == null ? "" : String(o.fcr);
    }
    const drivers = data.drivers.slice(0, 15).reverse();
    const fcr = function (rows, key, name) {
      return { type: "bar", name: name, x: pluck(rows, key), y: rows.map(function (r) { return r.fcr == null ? null : r.fcr * 100; }),
               text: rows.map(function (r) { return r.repeated + " of " + r.contacts + " came back"; }) };
    };
    return Promise.all([
      plot("chart-repeat-drivers", [{
        type: "bar", orientation: "h", name: "contacts followed by a repeat", y: pluck(drivers, "intent"), x: pluck(drivers, "repeated"),
        text: drivers.map(function (r) {
          return Object.keys(r.repeat_channels).map(function (c) { return c + " " + r.repeat_channels[c]; }).join(", ") +
            (r.repeat_seconds ? "; " + Math.round(r.repeat_seconds / 60) + " min" : "");
        }),
      }], { margin: { t: 10, r: 20, b: 40, l: 240 }, xaxis: { title: "contacts followed by a repeat" } }),
      plot("chart-fcr", [fcr(data.by_queue, "queue", "queues"), fcr(data.by_agent.slice(0, 20), "agent", "agents")],
        { yaxis: { title: "first-contact resolution %", range: [0, 105] } }),
    ]);
  }

  function customerJourney() {
    const source = document.getElementById("journey-data");
    const steps = source ? JSON.parse(source.textContent) : [];
    const colour = { resolved: "#16a34a", transferred: "#f97316", follow_up: "#ca8a04", unresolved: "#dc2626" };
    plot("chart-journey", [{
      type: "scatter", mode: "lines+markers+text", name: "contacts",
      x: pluck(steps, "created_at"), y: pluck(steps, "channel"),
      text: steps.map(function (s) { return s.intent || ""; }), textposition: "top center",
      marker: { size: 14, color: steps.map(function (s) { return colour[s.resolution] || colour[s.outcome] || "#64748b"; }) },
      line: { color: "#94a3b8", dash: "dot" },
    }], { yaxis: { type: "category", categoryorder: "array", categoryarray: ["voice", "chat", "sms"] }, height: 260 })
      .then(function () { body.dataset.charts = "done"; });
  }

  function reviews() {
    document.querySelectorAll("select.qa-answer").forEach(function (select) {
      select.addEventListener("change", function () {
        const said = document.getElementById("qa-status");
        fetch("/v1/interactions/" + encodeURIComponent(select.dataset.contact) + "/qa/" + encodeURIComponent(select.dataset.question), {
          method: "PUT", credentials: "same-origin",
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          body: JSON.stringify({ answer: select.value }),
        }).then(function (response) {
          return response.json().then(function (answer) {
            if (!response.ok) throw new Error(typeof answer.detail === "string" ? answer.detail : "HTTP " + response.status);
            document.getElementById("qa-score").textContent = answer.score == null ? "n/a" : String(answer.score);
            said.textContent = "saved: " + select.dataset.question + " = " + select.value;
            select.closest("tr").classList.add("overridden");
          });
        }).catch(function (error) { said.textContent = String(error); });
      });
    });
  }

  function pct(v) { return v == null ? "" : (v * 100).toFixed(1) + "%"; }

  function dashboard() {
    const jobs = [
      ["volume", volume, ["chart-volume-channel", "chart-volume-intent", "chart-categories"]],
      ["handle-time", handleTime, ["chart-handle-intent", "chart-cost-intent"]],
      ["predicted-vs-actual", predicted, ["chart-predicted", "chart-predicted-trend"]],
      ["sentiment", sentiment, ["chart-sentiment"]],
      ["queues-agents", queuesAgents, ["chart-queues", "chart-agents"]],
      ["conversation", conversation, ["chart-conversation"]],
      ["qa", quality, ["chart-qa-trend", "chart-qa-agents", "chart-qa-groups", "chart-qa-questions",
                       "chart-qa-question-trend"]],
      ["repeats", repeats, ["chart-repeat-drivers", "chart-fcr"]],
    ];
    Promise.all(jobs.map(function (job) {
      return api(job[0]).then(job[1]).catch(function (error) { job[2].forEach(function (id) { fail(id, error); }); });
    })).then(function () { body.dataset.charts = "done"; });
  }

  function opportunities() {
    const source = document.getElementById("opportunities-data");
    const items = source ? JSON.parse(source.textContent) : [];
    const rows = items.slice().reverse();
    plot("chart-opportunities", [{
      type: "bar", orientation: "h", name: "seconds saved per day",
      y: pluck(rows, "title"), x: pluck(rows, "seconds_saved_per_day"),
    }], { margin: { t: 10, r: 20, b: 40, l: 380 }, xaxis: { title: "seconds saved per day" } })
      .then(function () { body.dataset.charts = "done"; });
  }

  function themes() {
    const source = document.getElementById("themes-data");
    const items = source ? JSON.parse(source.textContent) : [];
    const traces = items.slice(0, 8).map(function (theme) {
      return { type: "scatter", mode: "lines", name: theme.name + " (" + theme.size + ")",
               x: pluck(theme.trend, "day"), y: pluck(theme.trend, "contacts") };
    });
    plot("chart-themes", traces, { yaxis: { title: "contacts a day" } })
      .then(function () { body.dataset.charts = "done"; });
    const button = document.getElementById("recompute");
    if (button) {
      button.addEventListener("click", function () {
        const status = document.getElementById("recompute-status");
        button.disabled = true;
        fetch("/v1/themes", { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) {
            status.textContent = response.ok ? "queued: reload this page in a minute" : "HTTP " + response.status;
          })
          .catch(function (error) { status.textContent = String(error); button.disabled = false; });
      });
    }
  }

  function makeIntents() {
    document.querySelectorAll("form.make-intent").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        const said = form.querySelector(".made");
        const body = { name: form.elements.name.value, queue: form.elements.queue.value };
        fetch("/v1/themes/" + form.dataset.index + "/intent", {
          method: "POST", credentials: "same-origin",
          headers: { Accept: "application/json", "Content-Type": "application/json" }, body: JSON.stringify(body),
        }).then(function (response) {
          return response.json().then(function (answer) {
            said.textContent = response.ok ? "intent " + answer.name + " made from " + answer.examples.length +
              " requests: fit a model to use it"
              : typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail);
          });
        }).catch(function (error) { said.textContent = String(error); });
      });
    });
  }

  function contact() {
    const player = document.getElementById("player");
    const turns = Array.prototype.slice.call(document.querySelectorAll("#turns .turn"));
    document.querySelectorAll("button.jump").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!player) return;
        player.currentTime = parseFloat(button.dataset.start) || 0;
        const playing = player.play();
        if (playing && playing.catch) playing.catch(function () { /* autoplay policy: the seek still happened */ });
      });
    });
    if (player) {
      player.addEventListener("timeupdate", function () {
        const now = player.currentTime;
        turns.forEach(function (li) {
          const on = now >= parseFloat(li.dataset.start) && now < Math.max(parseFloat(li.dataset.end), parseFloat(li.dataset.start) + 0.5);
          li.classList.toggle("current", on);
        });
      });
    }
  }

  if (body.dataset.page === "dashboard") dashboard();
  if (body.dataset.page === "opportunities") opportunities();
  if (body.dataset.page === "themes") { themes(); makeIntents(); }
  if (body.dataset.page === "contact") { contact(); reviews(); }
  if (body.dataset.page === "journey") customerJourney();
})();
