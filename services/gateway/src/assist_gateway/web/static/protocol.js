// The agent <-> console protocol v1 (docs/protocol.md) in the browser: framing and the screen decoder.
"use strict";

window.AssistProtocol = (() => {
  const PROTOCOL = 1;
  const CONTROL = 0, TERMINAL = 1, SCREEN = 2, INPUT = 3;
  const CLIPBOARD = 4; // clipboard text, both ways, under the `clipboard` scope (#17)
  // The customer's browser showing its screen (#18): the gateway's rewrite of its screen updates, same format.
  const BROWSER_SCREEN = 6;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  function frame(channel, payload) {
    const out = new Uint8Array(1 + payload.length);
    out[0] = channel;
    out.set(payload, 1);
    return out;
  }

  const json = (channel, message) => frame(channel, encoder.encode(JSON.stringify(message)));
  const text = (channel, string) => frame(channel, encoder.encode(string));

  function parse(buffer) {
    const bytes = new Uint8Array(buffer);
    return { channel: bytes[0], payload: bytes.subarray(1) };
  }

  function parseJson(payload) {
    try {
      const value = JSON.parse(decoder.decode(payload));
      return value && typeof value.type === "string" ? value : null;
    } catch (_) {
      return null;
    }
  }

  // zlib (RFC 1950) is what the browser calls "deflate".
  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // Draws screen messages on a canvas. Tiles are inflated asynchronously, so messages are applied through one
  // promise chain: a tile never lands after the next frame's tiles.
  class ScreenDecoder {
    constructor(canvas, onSize) {
      this.canvas = canvas;
      this.context = canvas.getContext("2d");
      this.onSize = onSize;
      this.chain = Promise.resolve();
    }

    push(payload) {
      const copy = payload.slice();
      this.chain = this.chain.then(() => this.apply(copy)).catch((error) => console.warn("screen:", error));
    }

    // Another of the customer's monitors is shown from the next frame on (`screen.selected`, #17): the canvas takes
    // its size after the tiles already on their way are drawn.
    resize(width, height) {
      if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) return;
      if (width > 65535 || height > 65535) return;
      this.chain = this.chain.then(() => this.setSize(width, height));
    }

    // Blank, after the tiles already on their way (a share that stopped, #18: its picture does not stay).
    clear() {
      this.chain = this.chain.then(() => this.context.clearRect(0, 0, this.canvas.width, this.canvas.height));
    }

    setSize(width, height) {
      if (this.canvas.width === width && this.canvas.height === height) return;
      this.canvas.width = width;
      this.canvas.height = height;
      if (this.onSize) this.onSize(width, height);
    }

    async apply(bytes) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const kind = bytes[0];
      if (kind === 0) {
        this.setSize(view.getUint16(5), view.getUint16(7));
      } else if (kind === 1) {
        const x = view.getUint16(1), y = view.getUint16(3), w = view.getUint16(5), h = view.getUint16(7);
        const encoding = bytes[9];
        if (encoding !== 0) return;
        const rgb = await inflate(bytes.subarray(10));
        const image = this.context.createImageData(w, h);
        for (let i = 0, j = 0; i < w * h; i += 1, j += 3) {
          image.data[i * 4] = rgb[j];
          image.data[i * 4 + 1] = rgb[j + 1];
          image.data[i * 4 + 2] = rgb[j + 2];
          image.data[i * 4 + 3] = 255;
        }
        this.context.putImageData(image, x, y);
      }
      // kind 2 (frame end) needs nothing: every tile is drawn as it arrives.
    }
  }

  return { PROTOCOL, CONTROL, TERMINAL, SCREEN, INPUT, CLIPBOARD, BROWSER_SCREEN, frame, json, text, parse, parseJson, ScreenDecoder };
})();
