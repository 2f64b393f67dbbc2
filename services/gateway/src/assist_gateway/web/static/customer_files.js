// The customer's page shows the session's file transfers (#17): each file the consultant sent or asked for, its
// name, size, direction, status and how far it got, as the relay recorded them (GET /api/v1/sessions/{id}/
// file-transfers, updated at most once a second). The customer decides each file in their agent (A, F, R); the page
// shows it. customer.js calls `update` after each poll of the session; names are put in as text, never markup.
"use strict";

window.AssistCustomerFiles = (() => {
  const OPEN = ["offered", "sending"];
  const $ = (id) => document.getElementById(id);
  let reading = false;
  let listed = []; // the transfers last read
  let readOnce = false;
  let hadFiles = false; // the consent included files at the last poll: read once more after it is taken back

  const size = (bytes) => window.Assist.fileSize(bytes);

  function row(transfer) {
    const { t, el } = window.Assist;
    const percent = transfer.size ? Math.floor((transfer.bytes_done * 100) / transfer.size) : 100;
    // A file of the customer's is offered to the console only once they allowed it: it is on its way then.
    const going = transfer.status === "sending"
      || (transfer.status === "offered" && transfer.direction === "from_customer");
    const status = going ? t("cf_status_sending", { percent }) : t(`cf_status_${transfer.status}`);
    const item = el("li", { class: "customer-file", "data-id": transfer.transfer_id,
      "data-direction": transfer.direction, "data-status": transfer.status, "data-name": transfer.name,
      "data-size": String(transfer.size) },
    el("span", { class: "file-direction", text: t(`cf_${transfer.direction}`) }), " ",
    el("span", { class: "file-name", text: transfer.name }), " ",
    el("span", { class: "file-size", text: size(transfer.size) }),
    el("progress", { class: "file-progress", max: String(Math.max(1, transfer.size)),
      value: String(Math.min(transfer.bytes_done, transfer.size)), "aria-label": transfer.name }),
    el("span", { class: "file-status", text: status }));
    return item;
  }

  function show(transfers) {
    listed = transfers;
    const list = $("customer-file-list");
    list.replaceChildren(...transfers.slice().reverse().map(row));
    $("customer-files").hidden = transfers.length === 0;
  }

  // After the page's poll of the session (`view`): the transfers are read while the consent includes files or one
  // is still open, once more after files were taken back (a file offered since the last read is shown cancelled),
  // and once more after the end.
  async function update(session, view, { final = false } = {}) {
    const scopes = Array.isArray(view && view.scopes) ? view.scopes : [];
    const files = scopes.includes("files");
    const worth = final || !readOnce || files || hadFiles || listed.some((item) => OPEN.includes(item.status));
    if (!session || reading || !worth) return;
    reading = true;
    hadFiles = files;
    try {
      const result = await window.Assist.api("GET",
        `/api/v1/sessions/${encodeURIComponent(session.session_id)}/file-transfers`, { token: session.customer_token });
      if (result.ok && result.data && Array.isArray(result.data.transfers)) {
        readOnce = true;
        show(result.data.transfers);
      }
    } catch (_) {
      // the next poll tries again
    } finally {
      reading = false;
    }
  }

  function forget() {
    listed = [];
    readOnce = false;
    hadFiles = false;
    $("customer-file-list").replaceChildren();
    $("customer-files").hidden = true;
  }

  return { update, forget };
})();
