// A station screen: shows the station's current state, pushed as server-sent events.
// No history: every state replaces the last; a verdict falls back to "please badge in"
// after its hold time. A failure beeps (WebAudio, no sound file). The badge prompt shows
// only while every required device works; otherwise the screen says "device offline,
// tell the manager" in the fault colour. The clock is the agent's, sent every second.
"use strict";
(function () {
  const screen = document.getElementById("screen");
  const station = screen.dataset.station;
  const words = JSON.parse(document.getElementById("words").textContent);
  const el = (id) => document.getElementById(id);
  let holdTimer = null;
  let audio = null;

  function bilingual(node, key) {
    node.textContent = "";
    const pair = words[key];
    if (!pair) return;
    const zh = document.createElement("span");
    zh.className = "zh";
    zh.textContent = pair[0];
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = pair[1];
    node.append(zh, " ", en);
  }

  function beep() {
    // Chromium allows audio after a tap, or always in kiosk mode with
    // --autoplay-policy=no-user-gesture-required
    try {
      audio = audio || new AudioContext();
      const t = audio.currentTime;
      [880, 660, 880].forEach((freq, i) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.3, t + i * 0.25);
        gain.gain.exponentialRampToValueAtTime(0.001, t + i * 0.25 + 0.22);
        osc.connect(gain).connect(audio.destination);
        osc.start(t + i * 0.25);
        osc.stop(t + i * 0.25 + 0.23);
      });
    } catch (e) { /* no audio device: the colour still says it */ }
  }
  document.addEventListener("pointerdown", () => { audio = audio || new AudioContext(); audio.resume(); });

  function line(device) {
    const item = document.createElement("li");
    item.className = device.ok ? "device-ok" : "device-down";
    const zh = document.createElement("span");
    zh.className = "zh";
    zh.textContent = device.zh;
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = device.en;
    item.append(zh, " ", en);
    return item;
  }

  function paintDevices(state) {
    const devices = state.devices || [];
    const ready = state.ready !== false;
    const down = devices.filter((d) => !d.ok);
    el("fault-devices").replaceChildren(...down.map(line));
    bilingual(el("fault-title"), state.connecting ? "connecting" : "device_offline");
    // an optional device down (a keypad the station can work without): a small line only
    const optional = devices.filter((d) => !d.ok && !d.required);
    el("device-warning").hidden = !ready || optional.length === 0;
    el("device-warning").replaceChildren(...(ready ? optional.map(line) : []));
    return ready;
  }

  function paint(state) {
    clearTimeout(holdTimer);
    const phase = state.phase || "waiting";
    const ready = paintDevices(state);
    const fault = !ready && (phase === "waiting" || phase === "notice");
    document.body.className = "station phase-" + phase + (state.verdict ? " verdict-" + state.verdict : "")
      + (phase === "notice" ? " level-" + state.level : "")
      + (ready ? "" : state.connecting ? " connecting" : " fault");
    el("fault").hidden = ready;  // over a verdict in progress it is a banner (css)
    el("waiting").hidden = phase !== "waiting" || !ready;
    el("person").hidden = !(phase === "identified" || phase === "verdict");
    el("notice").hidden = phase !== "notice" || fault;
    el("name").textContent = state.name || "";
    el("reading").textContent = state.reading || "";
    if (phase === "verdict" && state.verdict) bilingual(el("verdict"), state.verdict);
    else el("verdict").textContent = "";
    bilingual(el("next"), state.next_step || "");
    el("notice").textContent = phase === "notice" ? state.text : "";
    // the notice panel already shows a notice's text: the small line is for the other phases
    el("text").textContent = phase === "waiting" || phase === "notice" ? "" : state.text || "";
    if (state.verdict === "fail") beep();
    if (state.hold_s) {
      // back to the badge prompt: nothing of this person stays; the devices' health does
      const waiting = { seq: state.seq, phase: "waiting", devices: state.devices, ready: state.ready,
                        connecting: state.connecting };
      holdTimer = setTimeout(() => paint(waiting), state.hold_s * 1000);
    }
    // painted: the tests and the benchmark wait for this number (and its wall-clock time, ms)
    requestAnimationFrame(() => {
      const root = document.documentElement.dataset;
      root.paintedAt = String(performance.timeOrigin + performance.now());
      root.painted = String(state.seq);
    });
  }

  function connect() {
    const source = new EventSource("/station/" + encodeURIComponent(station) + "/events");
    source.addEventListener("open", () => { el("link").className = "link-up"; });
    source.addEventListener("state", (event) => paint(JSON.parse(event.data)));
    source.addEventListener("clock", (event) => { el("clock").textContent = event.data; });
    source.addEventListener("error", () => { el("link").className = "link-down"; });  // EventSource retries
  }

  connect();
})();
