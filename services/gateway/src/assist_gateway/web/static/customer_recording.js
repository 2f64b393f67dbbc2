// The customer's recording, after the session ends (#19): "Replay / download" mints a time-limited link
// (POST /api/v1/sessions/{id}/recording/link) and opens the playback page with it, and "Erase my recording" erases it
// at once after a confirmation (POST /api/v1/sessions/{id}/recording/erase). customer.js calls `show` when the session
// has ended and `reset` when the page forgets it. The recording closes a moment after the end: the session is read
// again until it says so.
"use strict";

window.AssistCustomerRecording = (() => {
  const $ = (id) => document.getElementById(id);
  const GONE = ["erased", "expired"];
  let shownFor = null; // the session the box is about
  let token = null;

  const path = (sessionId, rest = "") => `/api/v1/sessions/${encodeURIComponent(sessionId)}/recording${rest}`;

  function render(sessionId, recording) {
    const { t, localTime } = window.Assist;
    const box = $("recording-box");
    box.dataset.status = recording ? recording.status : "none";
    box.hidden = !recording;
    if (!recording) return;
    const gone = GONE.includes(recording.status);
    $("recording-replay").hidden = gone;
    $("recording-erase").hidden = gone;
    $("recording-box-hint").textContent = gone ? t(recording.status === "erased" ? "rp_customer_erased" : "rp_expired")
      : t("rp_customer_recording_hint", { time: recording.delete_after ? localTime(recording.delete_after) : "—" });
  }

  async function read(sessionId, attempt) {
    if (shownFor !== sessionId) return;
    const result = await window.Assist.api("GET", `/api/v1/sessions/${encodeURIComponent(sessionId)}`, { token });
    if (shownFor !== sessionId || !result.ok) return;
    const recording = result.data.recording || null;
    render(sessionId, recording);
    // Still being closed by the recorder (its last segments): ask again, a while.
    if (recording && recording.status === "recording" && attempt < 30) {
      setTimeout(() => read(sessionId, attempt + 1), 1000);
    }
  }

  async function replay() {
    const { t, problemText } = window.Assist;
    $("recording-status").textContent = "";
    const result = await window.Assist.api("POST", path(shownFor, "/link"), { token });
    if (result.ok) {
      window.location.assign(result.data.url); // the page comes back here with its own way back
    } else {
      $("recording-status").textContent = t("rp_customer_link_failed", { detail: problemText(result) });
    }
  }

  async function erase() {
    const { t, confirmAction, problemText } = window.Assist;
    if (!(await confirmAction(t("rp_erase_question"), t("rp_erase_confirm")))) return;
    const sessionId = shownFor;
    $("recording-erase").disabled = true;
    $("recording-status").textContent = t("rp_erasing");
    const result = await window.Assist.api("POST", path(sessionId, "/erase"), { token });
    $("recording-erase").disabled = false;
    if (shownFor !== sessionId) return;
    if (result.ok) {
      $("recording-status").textContent = t("rp_erased_done");
      render(sessionId, { status: "erased" });
    } else {
      $("recording-status").textContent = t("rp_erase_failed", { detail: problemText(result) });
    }
  }

  function show(view, saved) {
    if (!$("recording-box") || !saved || shownFor === view.session_id) return;
    shownFor = view.session_id;
    token = saved.customer_token;
    render(view.session_id, view.recording || null);
    read(view.session_id, 0);
  }

  function reset() {
    shownFor = null;
    token = null;
    if (!$("recording-box")) return;
    $("recording-box").hidden = true;
    $("recording-status").textContent = "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("recording-box")) return;
    $("recording-replay").addEventListener("click", replay);
    $("recording-erase").addEventListener("click", erase);
  });
  return { show, reset };
})();
