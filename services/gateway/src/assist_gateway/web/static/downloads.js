// The customer page's "get the agent" block: the download for the visitor's platform (from /downloads/, which
// lists what this server has built), the command that starts it with this session's code, and copy buttons.
"use strict";

(() => {
  const { t } = window.Assist;
  const $ = (id) => document.getElementById(id);
  const NAMES = { linux: "Linux", windows: "Windows", darwin: "macOS" };
  let index = null; // /downloads/'s answer: {files: [...]}
  let visitor = null; // {os, arch, mobile}

  // userAgentData where the browser has it (Chromium), else the userAgent string; the architecture from
  // userAgentData's high-entropy values or an ARM Linux userAgent, else unknown (the string says nothing reliable).
  async function detectVisitor() {
    const ua = navigator.userAgent || "";
    const data = navigator.userAgentData;
    let platform = (data && data.platform) || "";
    let arch = "";
    if (data && data.getHighEntropyValues) {
      try { arch = (await data.getHighEntropyValues(["architecture"])).architecture || ""; } catch (_) { /* denied */ }
    }
    // A browser whose userAgent was overridden keeps its own userAgentData: the string then has the last word.
    const fromString = /Android/.test(ua) ? "Android" : /iPhone|iPad|iPod/.test(ua) ? "iOS"
      : /Windows/.test(ua) ? "Windows" : /Macintosh|Mac OS X/.test(ua) ? "macOS" : /CrOS/.test(ua) ? "Chrome OS"
      : /Linux|X11/.test(ua) ? "Linux" : "";
    if (fromString && fromString !== platform) platform = fromString;
    if (!arch && /aarch64|arm64|armv8/i.test(ua)) arch = "arm";
    const os = { Linux: "linux", Windows: "windows", macOS: "darwin" }[platform] || null;
    const known = arch ? (arch.startsWith("arm") ? "arm" : "x86") : null;
    return { os, arch: known, mobile: !os || (data && data.mobile) === true };
  }

  // The executable names build_executable.py gives (platform.system()/machine() of the building computer). An
  // unknown architecture is taken as x86_64, which Apple silicon also runs (Rosetta), then a Mac's arm64.
  function executableFor(os, arch) {
    const machines = arch === "arm" ? ["arm64", "aarch64"] : ["x86_64", "amd64"];
    if (!arch && os === "darwin") machines.push("arm64");
    const files = (index && index.files) || [];
    return files.find((f) => f.kind === "executable" && machines.some((m) => f.platform === `${os}-${m}`)) || null;
  }

  const wheel = () => ((index && index.files) || []).find((f) => f.kind === "wheel") || null;

  function code() {
    return $("session-code").textContent.replace(/\s+/g, "");
  }

  function show(id, visible) { $(id).hidden = !visible; }

  // The command, one inline-block per word: a narrow screen wraps it between words (never after the first hyphen
  // of `--gateway`), and only a word wider than the screen (the URL) breaks inside. Its text is the command.
  function showCommand(command) {
    const target = $("agent-command");
    target.replaceChildren();
    command.split("\n").forEach((line, index) => {
      if (index) target.append("\n");
      line.split(" ").forEach((word, position) => {
        if (position) target.append(" ");
        const span = document.createElement("span");
        span.className = "word";
        span.textContent = word;
        target.append(span);
      });
    });
  }

  function offerExecutable(file) {
    $("agent-download-link").href = file.url;
    $("agent-download-link").textContent = t("download_for", { platform: NAMES[file.platform.split("-")[0]] });
    $("agent-download-link").dataset.platform = file.platform;
    $("agent-download-size").textContent = t("download_size", {
      size: (file.size / 1048576).toFixed(1), sha: file.sha256.slice(0, 16) + "…",
    });
    $("agent-download-size").title = file.sha256;
    show("agent-download", true);
  }

  function render() {
    if (!index || !visitor || !code()) return;
    const gateway = location.origin;
    const args = `--gateway ${gateway} --code ${code()}`;
    const executable = visitor.os && executableFor(visitor.os, visitor.arch);
    const linux = executableFor("linux", "x86");
    const pkg = wheel();
    for (const id of ["agent-download", "agent-other-platform", "agent-wheel", "agent-not-built"]) show(id, false);
    $("get-agent").dataset.offer = "";
    if (executable && !visitor.mobile) {
      offerExecutable(executable);
      const windows = visitor.os === "windows";
      $("agent-run-hint").textContent = t(windows ? "run_executable_windows_hint" : "run_executable_hint");
      showCommand(windows ? `.\\${executable.name} ${args}`
        : `chmod +x ${executable.name} && ./${executable.name} ${args}`);
      $("get-agent").dataset.offer = "executable";
      return;
    }
    if (!pkg) {
      show("agent-not-built", true);
      $("agent-run-hint").textContent = "";
      showCommand("");
      $("get-agent").dataset.offer = "none";
      return;
    }
    if (visitor.mobile && linux) {
      offerExecutable(linux);
      $("agent-other-platform").textContent = t("agent_other_device");
    } else {
      $("agent-other-platform").textContent = t("agent_other_platform", {
        platform: NAMES[visitor.os] || t("agent_your_system"),
      });
    }
    show("agent-other-platform", true);
    show("agent-wheel", true);
    $("agent-wheel-link").href = pkg.url;
    const python = visitor.os === "windows" ? "py" : "python3";
    $("agent-run-hint").textContent = t("run_wheel_hint");
    // The versioned URL: pip installs a wheel only under its real file name.
    showCommand(`${python} -m pip install --user ${gateway}${pkg.versioned_url}\n${python} -m assist_agent ${args}`);
    $("get-agent").dataset.offer = "wheel";
  }

  // navigator.clipboard needs a secure context (https or localhost); elsewhere the older execCommand still works.
  async function copy(text, done) {
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        copied = true;
      }
    } catch (_) { /* refused: try the fallback */ }
    if (!copied) {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "sr-only";
      document.body.append(area);
      area.select();
      try { copied = document.execCommand("copy"); } catch (_) { copied = false; }
      area.remove();
    }
    $("copy-status").className = copied ? "notice" : "error";
    $("copy-status").textContent = t(copied ? done : "copy_failed");
  }

  async function load() {
    try {
      const response = await fetch("/downloads/", { headers: { Accept: "application/json" } });
      index = response.ok ? await response.json() : { files: [] };
    } catch (_) {
      index = { files: [] };
    }
    render();
  }

  $("copy-code").addEventListener("click", () => copy(code(), "copied_code"));
  $("copy-command").addEventListener("click", () => copy($("agent-command").textContent, "copied_command"));
  // customer.js shows the session code (and writes a generic command); the command for this visitor's download
  // follows whenever the code changes. Mutation observers run after customer.js's own writes, so this one stands.
  new MutationObserver(render).observe($("session-code"), { childList: true, characterData: true, subtree: true });
  detectVisitor().then((found) => { visitor = found; render(); });
  load();
})();
