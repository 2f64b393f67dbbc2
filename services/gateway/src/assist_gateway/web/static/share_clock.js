// The clock of screen_share.js (#18), in a worker of its own: while the customer looks at the window they show, the
// request page is often hidden, and a hidden page's own timers are slowed to one a second, after a few minutes to one
// a minute (Chrome's timer throttling); a dedicated worker's timers are not, and its messages wake the page at once.
// Told an interval in ms, it says "tick" that often; told 0, it stops.
"use strict";

let timer = null;
self.onmessage = (event) => {
  clearInterval(timer);
  const interval = Number(event.data);
  timer = interval > 0 ? setInterval(() => self.postMessage("tick"), interval) : null;
};
