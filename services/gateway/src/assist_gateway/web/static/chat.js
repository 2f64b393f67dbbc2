// The session's chat (#17), as the customer's page and the console's session page both show it (templates/chat.html):
// the history read from GET /api/v1/sessions/{id}/chat?after=N, the messages one posts, and (on the console) those
// the socket brings. Every message is text (textContent), never markup, once, in the order of its `seq`.
// `chatAfter` is how far the history was read (the `after` of the next read): the history and the socket's messages
// move it, never this page's own 201, so a message posted meanwhile by the other side is never skipped.
// Each page says what differs: whose session it is, who "you" is, its words, what follows a send or the end.
"use strict";

window.AssistChat = (() => {
  const MAX = 2000;
  const $ = (id) => document.getElementById(id);
  const failed = { ok: false, status: 0, data: null };

  // options:
  //   session()        {id, token} of the session whose chat this is (token: the customer's), or null for none yet
  //   mine(message)    whether the message is this page's side's ("mine": shown on the right)
  //   author(message)  the name shown above it
  //   words            the words' keys: empty, tooLong, failed, network (in `failed`), and optionally sending and
  //                    send (the button's text while a message goes, and after), loadFailed (a history read that
  //                    failed, shown in #chat-load-error)
  //   readAfterSend    read the history after a send (a page without the socket: what the other side wrote meanwhile)
  //   onEnded()        a send found the session ended (after the chat shows closed)
  //   hideClosedEmpty  once closed, the whole chat is hidden while it holds no message
  function create(options) {
    const { t, api, problemText, clockTime, localTime, el } = window.Assist;
    const words = options.words;
    const list = $("chat-messages");
    const field = $("chat-text"); // null where the page only reads (a watcher)
    let after = 0;
    let reading = false;
    let again = false;
    let closed = false;
    let locked = false; // the page may no longer show it: empty, closed, nothing read or sent any more
    let sending = false;

    const url = (session, rest) => `/api/v1/sessions/${encodeURIComponent(session.id)}/chat${rest}`;
    const auth = (session) => (session.token ? { token: session.token } : {});
    const same = (session) => {
      const now = options.session();
      return !!now && now.id === session.id; // not dismissed, no newer request took over
    };

    function item(message) {
      const mine = options.mine(message);
      const time = el("time",
        { class: "chat-time", datetime: message.posted_at || "", text: clockTime(message.posted_at) });
      if (message.posted_at) time.title = localTime(message.posted_at);
      const author = el("span", { class: "chat-author", text: options.author(message) });
      return el("li", {
        class: `chat-message ${mine ? "mine" : "theirs"}`, "data-seq": String(message.seq),
        "data-role": message.role || "",
      }, el("p", { class: "chat-meta" }, author, " ", time),
      el("p", { class: "chat-text", text: typeof message.text === "string" ? message.text : "" }));
    }

    const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 24;

    // Adds the messages not on show yet (of this session); the ones added, in order.
    function add(messages) {
      const follow = atBottom();
      const session = options.session();
      const added = [];
      for (const message of messages) {
        const seq = Number(message && message.seq);
        if (!Number.isInteger(seq) || list.querySelector(`li[data-seq="${seq}"]`)) continue;
        if (message.session_id && session && message.session_id !== session.id) continue;
        const later = [...list.children].find((child) => Number(child.dataset.seq) > seq);
        list.insertBefore(item({ ...message, seq }), later || null);
        added.push(message);
      }
      if (added.length) {
        showState();
        if (follow || added.some(options.mine)) list.scrollTop = list.scrollHeight;
      }
      return added;
    }

    // Open: the form; closed (the session ended): the history, read only.
    function showState() {
      const any = list.children.length > 0;
      const shut = closed || locked;
      $("chat-empty").hidden = any || locked;
      $("chat-closed").hidden = !closed || locked;
      $("chat").dataset.state = shut ? "closed" : "open";
      if ($("chat-form")) $("chat-form").hidden = shut;
      if ($("chat-hint")) $("chat-hint").hidden = shut;
      if (options.hideClosedEmpty) $("chat").hidden = shut && !any;
    }

    async function read() {
      const session = options.session();
      if (!session || locked) return;
      if (reading) { again = true; return; }
      reading = true;
      let result;
      try {
        result = await api("GET", url(session, `?after=${after}`), auth(session));
      } catch (_) {
        result = failed;
      }
      reading = false;
      if (locked || !same(session)) return;
      const error = $("chat-load-error");
      if (result.ok && result.data && Array.isArray(result.data.messages)) {
        const messages = result.data.messages;
        for (const message of messages) after = Math.max(after, Number(message.seq) || 0);
        add(messages);
        if (error) error.hidden = true;
      } else if (error && words.loadFailed) {
        const detail = result.status === 0 ? t(words.network) : problemText(result);
        error.textContent = t(words.loadFailed, { detail });
        error.hidden = false;
      }
      if (again) { again = false; read(); }
    }

    function showError(text) {
      if (!field) return;
      $("chat-error").textContent = text;
      $("chat-error").hidden = !text;
      if (text) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    }

    function close() {
      closed = true;
      showError("");
      showState();
    }

    async function send(event) {
      if (event) event.preventDefault();
      const session = options.session();
      if (!field || !session || closed || locked || sending) return;
      const text = field.value;
      if (!text.trim()) { showError(t(words.empty)); field.focus(); return; }
      if (text.length > MAX) { showError(t(words.tooLong, { max: MAX })); field.focus(); return; }
      showError("");
      sending = true;
      const button = $("chat-send");
      button.disabled = true;
      if (words.sending) button.textContent = t(words.sending);
      let result;
      try {
        result = await api("POST", url(session, "/messages"), { ...auth(session), body: { text } });
      } catch (_) {
        result = failed;
      }
      sending = false;
      button.disabled = false;
      if (words.send) button.textContent = t(words.send);
      if (!same(session)) return;
      if (result.ok) {
        if (field.value === text) field.value = "";
        if (result.data && result.data.seq != null) add([result.data]);
        if (options.readAfterSend) read();
        field.focus();
        return;
      }
      const data = result.data || {};
      if (result.status === 409 && (data.code === "session_ended" || data.code === "chat_closed")) {
        close();
        if (options.onEnded) options.onEnded();
        return;
      }
      showError(t(words.failed, { detail: result.status === 0 ? t(words.network) : problemText(result) }));
    }

    if (field) {
      $("chat-form").addEventListener("submit", send);
      field.addEventListener("keydown", (event) => {
        // Enter sends; Shift+Enter is a new line; an input method's Enter (composing) is the method's.
        if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.ctrlKey || event.altKey
            || event.metaKey) return;
        event.preventDefault();
        send();
      });
      field.addEventListener("input", () => { if (!$("chat-error").hidden) showError(""); });
    }
    showState();

    return {
      list, field, atBottom, read, close, showError,
      get after() { return after; },
      get closed() { return closed; },
      // A message from the socket (the console's `chat` frame): shown, and the history counts as read up to it.
      receive(message) {
        if (locked) return [];
        const added = add([message]);
        after = Math.max(after, Number(message.seq) || 0);
        return added;
      },
      // No longer this page's to show: the messages leave, and nothing is read or sent any more.
      lock() {
        locked = true;
        closed = true;
        showError("");
        list.replaceChildren();
        showState();
      },
      // Back to a fresh chat (a new request on the same page): empty and open.
      reset() {
        after = 0;
        again = false;
        closed = false;
        list.replaceChildren();
        if (field) field.value = "";
        showError("");
        showState();
      },
    };
  }

  return { create, MAX };
})();
