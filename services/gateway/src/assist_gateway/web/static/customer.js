// The customer's page: the request with consent, then the live status, End, and the summary with the receipt.
"use strict";

(() => {
  const { t, api, problemText, secondsSince, duration, el } = window.Assist;
  const STORE = "assist.customer.session";
  const $ = (id) => document.getElementById(id);
  let pollTimer = null;
  let tickTimer = null;
  let current = null; // the last session view

  // The customer token lives in sessionStorage only: gone with the tab, never sent as a cookie.
  const saved = () => JSON.parse(sessionStorage.getItem(STORE) || "null");
  const save = (value) => sessionStorage.setItem(STORE, JSON.stringify(value));

  function show(section) {
    for (const id of ["request-section", "status-section", "summary-section"]) $(id).hidden = id !== section;
  }

  function chosenService() {
    const option = $("service_type").selectedOptions[0];
    return {
      code: option.value,
      unitSeconds: Number(option.dataset.unitSeconds),
      unitPrice: Number(option.dataset.unitPrice),
      minimumUnits: Number(option.dataset.minimumUnits),
    };
  }

  // The same rule as billing: max(minimum, ceil(seconds / unit)) units, VAT on top. The bill itself is billing's.
  function runningCost(seconds, service) {
    const units = Math.max(service.minimumUnits, Math.ceil(seconds / service.unitSeconds));
    const net = units * service.unitPrice;
    const gross = net * (1 + Number($("vat_rate").value));
    return `${gross.toFixed(2)} ${$("currency").value} (${t("vat_included")})`;
  }

  async function submit(event) {
    event.preventDefault();
    const form = $("request-form");
    const error = $("form-error");
    error.hidden = true;
    if (!$("consent").checked) {
      error.textContent = t("consent_required");
      error.hidden = false;
      $("consent").focus();
      return;
    }
    if (!form.reportValidity()) return;
    const scopes = [...form.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value);
    const body = {
      customer: {
        name: $("name").value, email: $("email").value,
        company: $("company").value || null, phone: $("phone").value || null,
      },
      service_type: $("service_type").value,
      description: $("description").value,
      consent: { accepted: true, terms_version: $("terms_version").value, scopes },
    };
    $("submit-request").disabled = true;
    const result = await api("POST", "/api/v1/help-requests", { body });
    $("submit-request").disabled = false;
    if (!result.ok) {
      error.textContent = problemText(result);
      error.hidden = false;
      return;
    }
    save({ ...result.data, service: chosenService() });
    follow();
  }

  function follow() {
    const session = saved();
    $("session-code").textContent = session.session_code.replace(/(\d{3})(?=\d)/g, "$1 ");
    $("agent-command").textContent = `assist agent --gateway ${location.origin} --code ${session.session_code}`;
    show("status-section");
    poll();
    pollTimer = setInterval(poll, 1000);
    tickTimer = setInterval(tick, 1000);
  }

  async function poll() {
    const session = saved();
    const result = await api("GET", `/api/v1/sessions/${session.session_id}`, { token: session.customer_token });
    if (!result.ok) return;
    current = result.data;
    const consultant = current.consultant || "";
    $("status-text").textContent = t(`status_${current.status}`, { consultant });
    tick();
    if (current.status === "ended") finish();
  }

  function tick() {
    if (!current || !current.started_at) return;
    const end = current.ended_at ? Date.parse(current.ended_at) : Date.now();
    const seconds = Math.max(0, Math.floor((end - Date.parse(current.started_at)) / 1000));
    $("elapsed").textContent = duration(seconds);
    $("running-cost").textContent = runningCost(seconds, saved().service);
  }

  async function endSession() {
    const session = saved();
    $("end-session").disabled = true;
    $("end-session").textContent = t("ending");
    const result = await api("POST", `/api/v1/sessions/${session.session_id}/terminate`,
      { token: session.customer_token });
    $("end-session").disabled = false;
    $("end-session").textContent = t("end_session");
    if (result.ok) poll();
    else $("status-text").textContent = problemText(result);
  }

  function finish() {
    clearInterval(pollTimer);
    clearInterval(tickTimer);
    show("summary-section");
    if (!current.started_at) {
      $("summary-duration").textContent = duration(0);
      $("summary-amount").textContent = t("no_charge");
      return;
    }
    loadReport(0);
  }

  // Billing closes the record from the session.ended event, a moment after the end: ask again until it has.
  async function loadReport(attempt) {
    const session = saved();
    const result = await api("GET", `/api/v1/sessions/${session.session_id}/report`,
      { token: session.customer_token });
    if (result.ok && result.data.gross != null) {
      const r = result.data;
      $("summary-duration").textContent = duration(r.duration_seconds);
      $("summary-amount").textContent =
        `${r.gross} ${r.currency} (${t("vat_included")}; ${r.net} ${t("vat_excluded")}, ${r.units} × ${r.unit_price})`;
    } else if (attempt < 60) {
      setTimeout(() => loadReport(attempt + 1), 1000);
    }
  }

  async function downloadReceipt() {
    const session = saved();
    const response = await fetch(`/api/v1/sessions/${session.session_id}/consent-receipt`, {
      headers: { Authorization: `Bearer ${session.customer_token}` },
    });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `consent-receipt-${session.session_id}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function startOver() {
    sessionStorage.removeItem(STORE);
    current = null;
    $("request-form").reset();
    show("request-section");
  }

  $("request-form").addEventListener("submit", submit);
  $("end-session").addEventListener("click", endSession);
  $("download-receipt").addEventListener("click", downloadReceipt);
  $("new-request").addEventListener("click", startOver);
  if (saved()) follow();
})();
