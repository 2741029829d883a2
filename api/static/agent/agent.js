// Live agent assist panel: one WebSocket per contact; the key goes in the first message, never in the URL.
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;
let streaming = false;
const RATE = 16000;
const CHUNK_S = 1.0;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function log(text, cls = "") {
  const item = el("li", { className: cls, textContent: `${new Date().toLocaleTimeString()} ${text}` });
  $("log").prepend(item);
}

function setConnected(on) {
  $("connect-btn").disabled = on;
  $("end-btn").disabled = !on;
  for (const id of ["text", "send-btn", "file", "mic-btn"]) $(id).disabled = !on;
  $("status").textContent = on ? `connected: ${$("session").value}` : "not connected";
}

function addTurn(speaker, text, partial = false, key = "") {
  if (!text) return;
  const same = key && [...$("transcript").querySelectorAll("li[data-key]")].find((li) => li.dataset.key === key);
  if (same) {
    same.lastChild.textContent += ` ${text}`;  // more committed words of a turn already shown
  } else {
    const item = el("li", { className: speaker + (partial ? " partial" : "") },
      el("b", { textContent: speaker }), el("span", { textContent: text }));
    if (key) item.dataset.key = key;
    $("transcript").append(item);
  }
  $("transcript").scrollTop = $("transcript").scrollHeight;
}

function showTranscript(t) {
  for (const node of [...$("transcript").querySelectorAll("li.partial")]) node.remove();
  for (const c of t.committed || []) addTurn(c.speaker, c.text, false, `${c.speaker}@${c.start}`);
  for (const [speaker, text] of Object.entries(t.partial || {})) addTurn(speaker, text, true);
}

function render(msg) {
  if (msg.type === "error") { log(`error: ${msg.error}`, "error"); return; }
  if (msg.type === "ready") { log(msg.call ? `authenticated; waiting for call ${msg.call}` : "authenticated"); return; }
  if (msg.type === "end" && !msg.intent) {  // a followed call ended: its last update stays on the panel
    log(msg.stored ? `call ended (${msg.reason}); stored as ${msg.interaction_id}` : `call ended (${msg.reason})`);
    return;
  }
  if (msg.transcript) showTranscript(msg.transcript);
  const intent = msg.intent || {};
  const pct = Math.round((intent.confidence || 0) * 100);
  $("intent").replaceChildren(
    el("span", { textContent: intent.label ? `${intent.label} · ${pct}%` : "no customer words yet" }),
    el("div", { className: "bar" }, Object.assign(el("i"), { style: `width:${pct}%` })),
  );
  $("intents").replaceChildren(...(msg.intents || []).slice(1).map(
    (i) => el("li", { textContent: `${i.label} · ${Math.round(i.confidence * 100)}%` })));
  const r = msg.routing || {};
  $("routing").replaceChildren(
    el("div", { textContent: `queue ${r.queue} · priority ${r.priority}` }),
    r.escalate ? el("div", { className: "escalate", textContent: "escalate" }) : "",
    el("small", { textContent: (r.reasons || []).join("; ") }),
  );
  const h = msg.handle_time || {};
  $("handle").textContent =
    `remaining ~${Math.round(h.remaining_p50_s)} s (p90 ${Math.round(h.remaining_p90_s)} s) · elapsed ${Math.round(h.elapsed_s)} s`;
  $("suggestions").replaceChildren(...(msg.suggestions || []).map((s) => el("li", { className: s.kind },
    el("span", { className: "kind", textContent: s.kind }), el("strong", { textContent: s.title }),
    el("small", { textContent: s.reason }), s.snippet ? el("p", { textContent: s.snippet }) : "")));
  $("entities").textContent = (msg.entities || []).map((e) => `${e.type}: ${e.text}`).join(" · ") || "—";
  if (msg.type === "end") {
    log(msg.stored ? `ended (${msg.reason}); stored as ${msg.interaction_id}` : `ended (${msg.reason}): ${msg.detail}`);
  } else if (msg.platform) {
    log(`${msg.platform} call: ${(msg.transcript?.committed || []).length} new utterance(s)`);
  } else {
    log(`${msg.event} answered in ${msg.latency_ms} ms`);
  }
}

function send(event) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(event));
}

$("session").value = `demo-${Date.now().toString(36)}`;
// A platform's call (Genesys conversation id, Twilio call SID) from the page's URL: /agent?call=ID, so the panel
// can sit in a Genesys interaction widget or a Twilio Flex panel. The key is still typed, never put in the URL.
$("call").value = new URLSearchParams(location.search).get("call") || "";

$("connect").addEventListener("submit", (e) => {
  e.preventDefault();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const following = $("call").value.trim();
  const path = following ? `calls/${encodeURIComponent(following)}` : encodeURIComponent($("session").value);
  socket = new WebSocket(`${scheme}://${location.host}/v1/live/${path}`);
  socket.onopen = () => {
    send({ type: "auth", key: $("key").value });
    if (following) {  // the platform streams the call: this panel only listens
      $("connect-btn").disabled = true;
      $("status").textContent = `following call ${following}`;
      return;
    }
    send({ type: "start", channel: $("channel").value });
    setConnected(true);
  };
  socket.onmessage = (m) => render(JSON.parse(m.data));
  socket.onclose = (e) => {
    streaming = false;
    setConnected(false);
    log(`closed (${e.code}${e.reason ? ": " + e.reason : ""})`);
    $("session").value = `demo-${Date.now().toString(36)}`;
  };
});

$("end-btn").addEventListener("click", () => { streaming = false; send({ type: "end" }); });

$("turn").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  addTurn($("speaker").value, text);
  send({ type: "turn", speaker: $("speaker").value, text });
  $("text").value = "";
});

function pcm16Base64(samples) {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  samples.forEach((v, i) => view.setInt16(i * 2, Math.max(-1, Math.min(1, v)) * 32767, true));
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

// A recording replayed in real time: each channel sent as its own speaker, one chunk per CHUNK_S.
$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  if (!file) return;
  const decoded = await new AudioContext().decodeAudioData(await file.arrayBuffer());
  const offline = new OfflineAudioContext(decoded.numberOfChannels, Math.ceil(decoded.duration * RATE), RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const audio = await offline.startRendering();
  const speakers = audio.numberOfChannels > 1 ? ["agent", "customer"] : ["unknown"];
  const speed = Number($("speed").value);
  const n = RATE * CHUNK_S;
  streaming = true;
  log(`replaying ${file.name} (${audio.duration.toFixed(1)} s) at ${speed}×`);
  for (let i = 0; i < audio.length && streaming; i += n) {
    speakers.forEach((speaker, c) => send({
      type: "audio", speaker, sample_rate: RATE, pcm16: pcm16Base64(audio.getChannelData(c).subarray(i, i + n)),
    }));
    await new Promise((resolve) => setTimeout(resolve, (CHUNK_S * 1000) / speed));
  }
});

// The microphone as the customer's channel (ScriptProcessor: no extra worklet file; fine for a demo).
$("mic-btn").addEventListener("click", async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext({ sampleRate: RATE });
  const input = context.createMediaStreamSource(stream);
  const processor = context.createScriptProcessor(4096, 1, 1);
  let pending = [];
  let count = 0;
  streaming = true;
  processor.onaudioprocess = (e) => {
    if (!streaming) { processor.disconnect(); stream.getTracks().forEach((t) => t.stop()); return; }
    const data = e.inputBuffer.getChannelData(0);
    pending.push(new Float32Array(data));
    count += data.length;
    if (count >= RATE * CHUNK_S) {
      const chunk = new Float32Array(count);
      let at = 0;
      for (const part of pending) { chunk.set(part, at); at += part.length; }
      send({ type: "audio", speaker: "customer", sample_rate: RATE, pcm16: pcm16Base64(chunk) });
      pending = [];
      count = 0;
    }
  };
  input.connect(processor);
  processor.connect(context.destination);
  log("microphone on (customer channel)");
});
