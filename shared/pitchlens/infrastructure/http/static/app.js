// PitchLens — the interactive highlight workflow (docs/interactive-api.md).
// Plain ES module, no dependencies, nothing loaded from the internet.

const TOKEN_KEY = "pitchlens.apiToken";
const POLL_MS = 1000;
const RETRY_MS = 2500;
// Anything but a final state counts as in flight (so an unknown new state keeps the page polling).
const FINAL_CLIP = new Set(["PERSISTED", "FAILED"]);
const FINAL_TASK = new Set(["SUCCEEDED", "FAILED"]);
const FINAL_SESSION = new Set(["READY", "DONE", "FAILED"]);
const BUSY_CLIP = { has: (status) => !FINAL_CLIP.has(status) };
const BUSY_TASK = { has: (status) => !!status && !FINAL_TASK.has(status) };
const INDICATORS = new Set(["dot", "circle", "glow"]);

const CLIP_STATUS = {
  PENDING: { label: "Queued", tone: "busy" },
  UPLOADED: { label: "Detecting", tone: "busy" },
  DETECTED: { label: "Tracking", tone: "busy" },
  TRACKED: { label: "Saving", tone: "busy" },
  PERSISTED: { label: "Ready", tone: "ok" },
  FAILED: { label: "Failed", tone: "failed" },
};
const SESSION_STATUS = {
  CUTTING: { label: "Cutting clips", tone: "busy" },
  READY: { label: "Ready", tone: "" },
  FINALIZING: { label: "Finalizing", tone: "busy" },
  DONE: { label: "Final video ready", tone: "ok" },
  FAILED: { label: "Failed", tone: "failed" },
};

const $ = (id) => document.getElementById(id);

// --- State ----------------------------------------------------------------------------------
const state = {
  config: { token_required: false },
  token: readToken(),
  sessionId: null,
  session: null,
  clips: [],
  clipId: null, // the open clip
  detection: null, // POST /cv/detect for the open clip
  image: null, // its frame, decoded
  selected: null, // player number
  focused: null, // player number under the mouse / keyboard cursor
  indicator: "circle",
  preview: null, // preview status of the open clip
  finalize: null, // finalize status of the session
  finalizeWatched: false, // this page started finalize (or the session was finalizing/done when loaded)
  reported: new Set(), // task failures already shown in the banner
  upload: null, // the XMLHttpRequest in flight
  landmarks: null, // names from GET /api/v1/pitch/landmarks, loaded on the first calibration
  calibrating: false, // the canvas marks landmarks instead of picking players
  marks: [], // {name, x, y} in frame pixels, on the open clip's detection frame
  calibration: null, // the open clip's calibration: {clipId, jobId, status, progress, reason, residuals, counts}
  sendingCalibration: false,
  picture: { key: null, url: null }, // the picked player's picture (an object URL of the PNG)
  pictureKind: "path",
  pictureVersion: 0, // bumped when a calibration succeeds: the picture is drawn again
};

function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

// --- HTTP -----------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
  get transient() {
    return this.status === 0 || this.status >= 500;
  }
}

function apiUrl(path) {
  return new URL(path.replace(/^\//, ""), document.baseURI).toString();
}

/** A server URL (preview / final video) with the token as a query parameter, for <video>/<a>. */
function fileUrl(url) {
  if (!url) return "";
  const full = new URL(url, document.baseURI);
  if (state.config.token_required && state.token) full.searchParams.set("token", state.token);
  return full.toString();
}

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

async function errorFrom(status, statusText, text) {
  let type = `HTTP ${status}`;
  let message = statusText || "request failed";
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") {
      // Every error of the API is a Problem (RFC 9457): `error` names it, `detail` says it.
      if (body.error) type = body.error;
      if (typeof body.detail === "string") message = body.detail;
    }
  } catch {
    if (text && text.length < 300) message = text;
  }
  return new ApiError(status, type, message);
}

async function api(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json, application/problem+json", ...(auth ? authHeaders() : {}) };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (error) {
    throw new ApiError(0, "NetworkError", `Could not reach the server (${error.message || error}).`);
  }
  const text = await response.text();
  if (!response.ok) throw await errorFrom(response.status, response.statusText, text);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, "BadResponse", `The server sent something that is not JSON: ${text.slice(0, 120)}`);
  }
}

// --- Errors ---------------------------------------------------------------------------------
let bannerTransient = false;

function showError(error, context) {
  const status = error instanceof ApiError ? error.status : undefined;
  const title = [context ? `${context} failed` : "Something went wrong"];
  if (status) title.push(`— ${status} ${error.type || ""}`.trim());
  else if (error instanceof ApiError && error.type === "NetworkError") title.push("— network error");
  $("error-title").textContent = title.join(" ");
  $("error-message").textContent = error.message || String(error);
  $("error-banner").hidden = false;
  bannerTransient = error instanceof ApiError && error.transient;
  if (status === 401) askForToken();
}

function showProblem(title, message) {
  $("error-title").textContent = title;
  $("error-message").textContent = message;
  $("error-banner").hidden = false;
  bannerTransient = false;
}

function clearError() {
  $("error-banner").hidden = true;
  bannerTransient = false;
}

/** A failed server task (preview, finalize, cut): reported once in the banner. */
function reportTaskFailure(key, title, reason) {
  if (state.reported.has(key)) return;
  state.reported.add(key);
  showProblem(title, reason || "The server gave no reason.");
}

// --- Token ----------------------------------------------------------------------------------
function askForToken() {
  const dialog = $("token-dialog");
  if (dialog.open) return;
  $("token-input").value = state.token;
  dialog.showModal();
  $("token-input").focus();
}

function saveToken(token) {
  state.token = token.trim();
  try {
    if (state.token) localStorage.setItem(TOKEN_KEY, state.token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: keep it in memory */
  }
  clearError();
  if (state.sessionId) kick();
  renderPreview();
  renderFinalize();
}

// --- Polling --------------------------------------------------------------------------------
let pollTimer = null;
let polling = false;
let pollAgain = false;

function kick(delay = 0) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, delay);
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

async function poll() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  let failed = null;
  const sessionId = state.sessionId;
  try {
    await refresh();
    if (bannerTransient) clearError(); // the connection is back
  } catch (error) {
    failed = error;
    if (sessionId === state.sessionId) showError(error, state.session ? "Refreshing the session" : "Loading the session");
  } finally {
    polling = false;
  }
  if (pollAgain) {
    pollAgain = false;
    kick();
    return;
  }
  if (!state.sessionId || sessionId !== state.sessionId) return;
  if (failed) {
    if (failed.transient) kick(RETRY_MS); // network / 5xx: keep trying
    else if (failed.status === 404 && !state.session) leaveUnknownSession();
    return;
  }
  if (anythingInFlight()) kick(POLL_MS);
}

function anythingInFlight() {
  const session = state.session;
  if (session && !FINAL_SESSION.has(session.status)) return true;
  if (state.clips.some((c) => BUSY_CLIP.has(c.status) || (c.preview && BUSY_TASK.has(c.preview.status)))) return true;
  if (state.preview && BUSY_TASK.has(state.preview.status)) return true;
  if (state.finalize && BUSY_TASK.has(state.finalize.status)) return true;
  return false;
}

async function refresh() {
  const id = state.sessionId;
  if (!id) return;
  const enc = encodeURIComponent(id);
  const [session, listed] = await Promise.all([api(`cv/session/${enc}`), api(`cv/session/${enc}/clips`)]);
  if (id !== state.sessionId) return;
  state.session = session;
  state.clips = listed.clips || [];

  const clip = openClip();
  if (clip && state.preview && BUSY_TASK.has(state.preview.status)) {
    const clipId = clip.clip_id;
    const status = await api(`cv/preview/${enc}/${encodeURIComponent(clipId)}/status`);
    if (id === state.sessionId && clipId === state.clipId) state.preview = status;
  }

  if (session.status === "FINALIZING" || session.status === "DONE") state.finalizeWatched = true;
  const finalizeBusy = state.finalize && BUSY_TASK.has(state.finalize.status);
  if (state.finalizeWatched && (!state.finalize || finalizeBusy || session.status === "FINALIZING")) {
    try {
      const status = await api(`cv/finalize/${enc}/status`);
      if (id === state.sessionId) state.finalize = status;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error; // 404: not started yet
    }
  }
  render();
}

// --- Views ----------------------------------------------------------------------------------
function showView(name) {
  for (const view of ["loading", "create", "session"]) $(`${view}-view`).hidden = view !== name;
  $("new-session-button").hidden = name !== "session";
  $("session-summary").hidden = name !== "session";
}

function sessionFromUrl() {
  return new URLSearchParams(window.location.search).get("session");
}

function route() {
  const id = sessionFromUrl();
  if (id) loadSession(id);
  else showCreate();
}

function resetSession() {
  stopPolling();
  Object.assign(state, {
    sessionId: null,
    session: null,
    clips: [],
    clipId: null,
    detection: null,
    image: null,
    selected: null,
    focused: null,
    preview: null,
    finalize: null,
    finalizeWatched: false,
  });
  resetClipTools();
  const video = $("preview-video");
  video.removeAttribute("src");
  video.load();
}

function showCreate() {
  resetSession();
  document.title = "PitchLens · New session";
  showView("create");
  $("game-input").focus();
}

async function loadSession(id, known = null) {
  resetSession();
  state.sessionId = id;
  state.session = known;
  showView("session");
  if (!known) {
    $("session-title").textContent = "Loading session…";
    $("session-status").hidden = true;
  }
  render();
  await poll();
}

/** After creating a session: its URL (so a reload resumes it), drawn at once from the answer. */
function goToSession(session) {
  const url = new URL(window.location.href);
  url.search = "";
  url.searchParams.set("session", session.session_id);
  window.history.pushState({ session: session.session_id }, "", url);
  loadSession(session.session_id, session);
}

/** The session in the URL does not exist: back to the form (the banner says why). */
function leaveUnknownSession() {
  const url = new URL(window.location.href);
  url.search = "";
  window.history.replaceState({}, "", url);
  showCreate();
}

function goToCreate() {
  const url = new URL(window.location.href);
  url.search = "";
  window.history.pushState({}, "", url);
  showCreate();
}

// --- Rendering ------------------------------------------------------------------------------
function openClip() {
  return state.clips.find((c) => c.clip_id && c.clip_id === state.clipId) || null;
}

function setBadge(el, text, tone) {
  el.textContent = text;
  el.className = `badge${tone ? ` is-${tone}` : ""}`;
}

function setProgress(bar, fraction, { indeterminate = false, failed = false } = {}) {
  const pct = Math.max(0, Math.min(100, Math.round((fraction || 0) * 100)));
  bar.setAttribute("aria-valuenow", String(pct));
  bar.classList.toggle("indeterminate", indeterminate);
  bar.classList.toggle("is-failed", failed);
  bar.querySelector(".progress-fill").style.width = `${pct}%`;
}

function render() {
  renderSession();
  renderClips();
  renderEditor();
  renderFinalize();
}

function renderSession() {
  const session = state.session;
  if (!session) return;
  $("session-title").textContent = `${session.game} · ${session.player}`;
  document.title = `${session.game} · ${session.player} — PitchLens`;
  const status = SESSION_STATUS[session.status] || { label: session.status, tone: "" };
  setBadge($("session-status"), status.label, status.tone);
  $("session-status").hidden = false;
  $("session-status").dataset.status = session.status;

  const note = $("session-note");
  note.classList.remove("is-failed");
  if (session.status === "CUTTING") {
    note.hidden = false;
    note.textContent = "Cutting the highlight clips from the game video… they appear here when ready.";
  } else if (session.status === "FAILED") {
    note.hidden = false;
    note.classList.add("is-failed");
    note.textContent = `This session failed: ${session.reason || "no reason given"}`;
    reportTaskFailure(`session:${session.session_id}`, "Cutting the clips failed", session.reason);
  } else {
    note.hidden = true;
  }
}

function clipKey(clip, index) {
  return clip.clip_id || `pending:${index}:${clip.name}`;
}

function formatSeconds(s) {
  if (s == null || Number.isNaN(s)) return "";
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return m ? `${m}:${rest.toFixed(0).padStart(2, "0")}` : `${rest.toFixed(1)} s`;
}

function previewTag(clip) {
  if (clip.approved) return { label: "Approved", tone: "ok" };
  const p = clip.preview;
  if (!p) return null;
  if (BUSY_TASK.has(p.status)) return { label: `Preview ${Math.round((p.progress || 0) * 100)}%`, tone: "busy" };
  if (p.status === "SUCCEEDED") return { label: "Preview ready", tone: "" };
  if (p.status === "FAILED") return { label: "Preview failed", tone: "failed" };
  return null;
}

function renderClips() {
  const list = $("clip-list");
  const clips = state.clips;
  const session = state.session;
  const expected = session && session.expected_clips;
  const ready = clips.filter((c) => c.status === "PERSISTED").length;
  $("clips-count").textContent = clips.length
    ? `${ready} / ${expected || clips.length} ready`
    : expected
      ? `0 / ${expected}`
      : "";

  const focusedKey = list.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  const items = clips.map((clip, index) => {
    const key = clipKey(clip, index);
    const status = CLIP_STATUS[clip.status] || { label: clip.status, tone: "" };
    const openable = clip.status === "PERSISTED" && !!clip.clip_id;
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "clip-item";
    button.dataset.key = key;
    button.dataset.testid = "clip-item";
    button.dataset.status = clip.status;
    if (clip.clip_id) button.dataset.clipId = clip.clip_id;
    button.setAttribute("aria-disabled", String(!openable));
    if (clip.clip_id && clip.clip_id === state.clipId) button.setAttribute("aria-current", "true");
    if (!openable) button.title = clip.status === "FAILED" ? "Processing failed" : "Still processing";

    const top = document.createElement("span");
    top.className = "clip-top";
    const idx = document.createElement("span");
    idx.className = "clip-index";
    idx.textContent = String(index + 1);
    const name = document.createElement("span");
    name.className = "clip-name";
    name.textContent = clip.name || clip.clip_id || "clip";
    name.title = name.textContent;
    const badge = document.createElement("span");
    badge.dataset.testid = "clip-status";
    setBadge(badge, status.label, status.tone);
    top.append(idx, name, badge);
    button.append(top);

    if (BUSY_CLIP.has(clip.status)) {
      const bar = document.createElement("div");
      bar.className = "progress";
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", `Processing ${clip.name}`);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.dataset.testid = "clip-progress";
      const fill = document.createElement("div");
      fill.className = "progress-fill";
      bar.append(fill);
      setProgress(bar, clip.progress, { indeterminate: clip.status === "PENDING" && !clip.progress });
      button.append(bar);
    }

    const meta = document.createElement("span");
    meta.className = "clip-meta";
    const parts = [];
    if (BUSY_CLIP.has(clip.status)) parts.push(`${Math.round((clip.progress || 0) * 100)}%`);
    if (clip.duration_s != null) parts.push(formatSeconds(clip.duration_s));
    if (clip.width && clip.height) parts.push(`${clip.width}×${clip.height}`);
    if (clip.fps) parts.push(`${Math.round(clip.fps * 100) / 100} fps`);
    meta.textContent = parts.join(" · ");
    if (parts.length) button.append(meta);

    const tag = previewTag(clip);
    if (tag) {
      const tags = document.createElement("span");
      tags.className = "clip-tags";
      const t = document.createElement("span");
      t.dataset.testid = "clip-preview-tag";
      setBadge(t, tag.label, tag.tone);
      tags.append(t);
      button.append(tags);
    }

    const reason = clip.reason || (clip.preview && clip.preview.status === "FAILED" ? clip.preview.reason : null);
    if (reason && (clip.status === "FAILED" || (clip.preview && clip.preview.status === "FAILED"))) {
      const r = document.createElement("span");
      r.className = "clip-reason";
      r.dataset.testid = "clip-reason";
      r.textContent = reason;
      button.append(r);
    }

    button.setAttribute(
      "aria-label",
      `Clip ${index + 1}: ${clip.name || ""}, ${status.label}${tag ? `, ${tag.label}` : ""}${reason ? `, ${reason}` : ""}`,
    );
    button.addEventListener("click", () => {
      if (openable) selectClip(clip.clip_id);
    });
    li.append(button);
    return li;
  });
  list.replaceChildren(...items);
  if (focusedKey) {
    const again = [...list.querySelectorAll(".clip-item")].find((b) => b.dataset.key === focusedKey);
    if (again) again.focus();
  }
}

function renderEditor() {
  const clip = openClip();
  $("workspace-empty").hidden = !!clip;
  $("clip-editor").hidden = !clip;
  if (!clip) return;
  $("editor-title").textContent = clip.name || clip.clip_id;
  const meta = [];
  if (clip.width && clip.height) meta.push(`${clip.width}×${clip.height}`);
  if (clip.duration_s != null) meta.push(formatSeconds(clip.duration_s));
  if (state.detection) meta.push(`frame ${state.detection.frame_index}`);
  $("editor-meta").textContent = meta.join(" · ");
  renderPlayers();
  renderPreview();
}

function renderPlayers() {
  const players = state.detection ? state.detection.players : [];
  const picker = $("player-picker");
  const chip = (p) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "player-chip";
    chip.textContent = String(p.number);
    chip.dataset.testid = "player-chip";
    chip.dataset.number = String(p.number);
    chip.dataset.box = JSON.stringify(p.box);
    chip.setAttribute("aria-pressed", String(p.number === state.selected));
    chip.setAttribute("aria-label", `Player ${p.number}`);
    chip.dataset.team = p.team || "";
    const team = p.team ? `${p.team}, ` : "";
    chip.title = `Player ${p.number} (${team}confidence ${Math.round(p.confidence * 100)}%)`;
    chip.addEventListener("click", () => selectPlayer(p.number));
    chip.addEventListener("mouseenter", () => setFocused(p.number));
    chip.addEventListener("mouseleave", () => setFocused(null));
    return chip;
  };
  const groups = teamGroups(players).map(([team, members]) => {
    const group = document.createElement("div");
    group.className = "team-group";
    group.dataset.testid = "team-group";
    group.dataset.team = team;
    group.setAttribute("role", "group");
    const label = team || "team unknown";
    group.setAttribute("aria-label", `${label}: ${members.length} player${members.length === 1 ? "" : "s"}`);
    const name = document.createElement("span");
    name.className = "team-name";
    const swatch = document.createElement("i");
    swatch.className = "team-swatch";
    swatch.style.background = members[0].team_colour || "transparent"; // as the server's pictures draw it
    name.append(swatch, label);
    group.append(name, ...members.map(chip));
    return group;
  });
  const hadFocus = picker.contains(document.activeElement) ? document.activeElement.dataset.number : null;
  picker.replaceChildren(...groups);
  if (hadFocus) picker.querySelector(`[data-number="${hadFocus}"]`)?.focus();

  const label = $("selection-label");
  if (state.detection && !players.length) {
    label.textContent = "No followable players on this frame";
    label.classList.remove("is-selected");
  } else if (state.selected != null) {
    label.textContent = `Player ${state.selected} selected`;
    label.classList.add("is-selected");
  } else {
    label.textContent = "No player selected";
    label.classList.remove("is-selected");
  }
  label.dataset.selected = state.selected == null ? "" : String(state.selected);

  const busy = state.preview && BUSY_TASK.has(state.preview.status);
  $("preview-button").disabled = state.selected == null || !!busy;
  $("preview-button").textContent = busy ? "Rendering preview…" : "Start preview";
  for (const input of document.querySelectorAll('input[name="indicator"]')) input.checked = input.value === state.indicator;
  renderCalibration();
  loadPicture();
  drawFrame();
}

// --- Players by team ------------------------------------------------------------------------
/** [team, players] pairs: one per kit colour name (alphabetical), then "other" (goalkeepers,
 * referees), then "" (kit never seen; the only group of a clip whose people were not placed). */
function teamGroups(players) {
  const groups = new Map();
  for (const p of players) {
    const team = p.team || "";
    if (!groups.has(team)) groups.set(team, []);
    groups.get(team).push(p);
  }
  const rank = (team) => (team === "" ? 2 : team === "other" ? 1 : 0);
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

// --- Calibration on the detection frame -----------------------------------------------------
function resetClipTools() {
  state.calibrating = false;
  state.marks = [];
  state.calibration = null;
  state.sendingCalibration = false;
  state.picture.key = null;
  if (state.picture.url) URL.revokeObjectURL(state.picture.url);
  state.picture.url = null;
  $("player-picture").removeAttribute("src");
  $("player-picture").hidden = true;
  $("calibration-error").hidden = true;
}

async function toggleCalibration() {
  if (!state.calibrating && !state.landmarks) {
    try {
      state.landmarks = Object.keys(await api("api/v1/pitch/landmarks")).sort();
    } catch (error) {
      showError(error, "Loading the pitch landmarks");
      return;
    }
  }
  state.calibrating = !state.calibrating;
  setFocused(null);
  renderCalibration();
  drawFrame();
  if (state.calibrating) $("landmark-select").focus();
}

function renderCalibration() {
  const on = state.calibrating && !!state.detection;
  const button = $("calibrate-button");
  button.disabled = !state.detection;
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Done calibrating" : "Calibrate";
  $("calibration-panel").hidden = !on;
  $("stage-hint").textContent = on
    ? "Calibrating: choose a landmark, then click where it is on the frame."
    : "Click inside a player's box to follow them (or use the numbered buttons below).";
  renderCalibrationJob();
  if (!on) return;

  const select = $("landmark-select");
  const marked = new Set(state.marks.map((m) => m.name));
  if (select.options.length !== state.landmarks.length) {
    select.replaceChildren(...state.landmarks.map((name) => new Option(name, name)));
  }
  for (const option of select.options) option.textContent = marked.has(option.value) ? `${option.value} ✓` : option.value;

  const items = state.marks.map((m) => {
    const li = document.createElement("li");
    li.dataset.testid = "calibration-point";
    li.dataset.name = m.name;
    li.textContent = `${m.name} (${Math.round(m.x)}, ${Math.round(m.y)})`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${m.name}`);
    remove.addEventListener("click", () => {
      state.marks = state.marks.filter((other) => other.name !== m.name);
      renderCalibration();
      drawFrame();
    });
    li.append(remove);
    return li;
  });
  $("calibration-points").replaceChildren(...items);
  const send = $("calibration-send");
  send.disabled = !state.marks.length || state.sendingCalibration;
  $("calibration-auto").disabled = state.sendingCalibration;
  send.textContent = `Send ${state.marks.length} point${state.marks.length === 1 ? "" : "s"}`;
}

/** The accepted calibration of the open clip: its residuals and its job, in and out of calibrating. */
function renderCalibrationJob() {
  const cal = state.calibration;
  $("calibration-result").hidden = !cal;
  if (!cal) return;
  const residuals = Object.entries(cal.residuals || {}).sort(([, a], [, b]) => b - a);
  const worst = residuals.length ? `; worst ${residuals[0][0]} off by ${residuals[0][1].toFixed(2)} m` : "";
  $("calibration-residuals").textContent = cal.automatic
    ? "Accepted: every shot is fitted from its pitch lines."
    : `Accepted: ${residuals.length} landmarks${worst}.`;
  const busy = BUSY_TASK.has(cal.status);
  const bar = $("calibration-bar");
  setProgress(bar, cal.status === "SUCCEEDED" ? 1 : cal.progress, {
    indeterminate: cal.status === "PENDING" && !cal.progress,
    failed: cal.status === "FAILED",
  });
  const label = $("calibration-label");
  label.dataset.status = cal.status;
  if (busy) label.textContent = `Placing the players in metres… ${Math.round((cal.progress || 0) * 100)}%`;
  else if (cal.status === "SUCCEEDED") {
    const rows = cal.counts && cal.counts.rows_with_metres;
    label.textContent = `Calibrated${rows != null ? `: ${rows} positions in metres` : ""}.`;
  } else label.textContent = `The calibration failed: ${cal.reason || "no reason given"}`;
}

function markLandmark(point) {
  const name = $("landmark-select").value;
  if (!name || !state.detection) return;
  const round = (v) => Math.round(v * 10) / 10;
  state.marks = state.marks.filter((m) => m.name !== name).concat([{ name, x: round(point.x), y: round(point.y) }]);
  $("calibration-error").hidden = true;
  renderCalibration();
  drawFrame();
}

/** Sends the marked landmarks, or (`automatic`) asks for every shot fitted from its pitch lines. */
async function sendCalibration(automatic = false) {
  const clip = openClip();
  const det = state.detection;
  if (!clip || !det || (!automatic && !state.marks.length)) return;
  const clipId = clip.clip_id;
  state.sendingCalibration = true;
  $("calibration-error").hidden = true;
  renderCalibration();
  try {
    const accepted = await api(`api/v1/clips/${encodeURIComponent(clipId)}/calibration`, {
      method: "POST",
      body: automatic
        ? { automatic: true, orientation: $("orientation-select").value }
        : {
            frame_index: det.image_frame_index ?? det.frame_index,
            points: state.marks,
            orientation: $("orientation-select").value,
          },
    });
    if (state.clipId !== clipId) return;
    state.calibration = {
      clipId,
      jobId: accepted.job_id,
      status: accepted.status,
      progress: 0,
      reason: null,
      residuals: accepted.residuals_m,
      automatic,
      counts: null,
    };
    watchCalibration(state.calibration);
  } catch (error) {
    if (state.clipId !== clipId) return;
    if (error instanceof ApiError && error.status === 422) {
      const refused = $("calibration-error");
      refused.textContent = `Refused: ${error.message}`;
      refused.hidden = false;
    } else {
      showError(error, "Sending the calibration");
    }
  } finally {
    state.sendingCalibration = false;
    renderCalibration();
  }
}

/** Polls the calibration job until it ends; on success the player's picture is drawn again. */
async function watchCalibration(cal) {
  while (cal === state.calibration && BUSY_TASK.has(cal.status)) {
    await new Promise((done) => setTimeout(done, POLL_MS));
    if (cal !== state.calibration) return;
    try {
      const job = await api(`api/v1/jobs/${encodeURIComponent(cal.jobId)}`);
      Object.assign(cal, { status: job.status, progress: job.progress, reason: job.reason, counts: job.counts });
    } catch (error) {
      if (!(error instanceof ApiError && error.transient)) {
        showError(error, "Following the calibration");
        return;
      }
    }
    renderCalibration();
  }
  if (cal === state.calibration && cal.status === "SUCCEEDED") {
    state.pictureVersion += 1;
    loadPicture();
  }
}

/** The marked landmarks on the frame: a cross and the name at each. */
function drawMarks(ctx, px) {
  ctx.save();
  ctx.strokeStyle = "#f5b94a";
  ctx.fillStyle = "#f5b94a";
  ctx.lineWidth = px(2);
  ctx.font = `600 ${px(11)}px system-ui, sans-serif`;
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  for (const m of state.marks) {
    const r = px(8);
    ctx.beginPath();
    ctx.moveTo(m.x - r, m.y);
    ctx.lineTo(m.x + r, m.y);
    ctx.moveTo(m.x, m.y - r);
    ctx.lineTo(m.x, m.y + r);
    ctx.stroke();
    ctx.fillText(m.name, m.x + px(5), m.y - px(3));
  }
  ctx.restore();
}

// --- The picked player on the pitch ---------------------------------------------------------
/** Fetches the picked player's path / heatmap (with the token header) into the <img>; a 409 (the
 * clip has no metres yet) shows the server's reason instead. Drawn once per player, kind and
 * calibration. */
async function loadPicture() {
  const clip = openClip();
  const det = state.detection;
  const player = det && det.players.find((p) => p.number === state.selected);
  $("picture-panel").hidden = !player;
  if (!clip || !player) return;
  const kind = state.pictureKind;
  const key = `${clip.clip_id}/${player.track_id}/${kind}/${state.pictureVersion}`;
  if (state.picture.key === key) return;
  state.picture.key = key;
  const img = $("player-picture");
  const note = $("picture-note");
  note.textContent = `Drawing player ${player.number}'s ${kind}…`;
  note.dataset.status = "";
  const path = `api/v1/clips/${encodeURIComponent(clip.clip_id)}/players/${player.track_id}/plots/${kind}.png`;
  let response;
  let blob = null;
  try {
    response = await fetch(apiUrl(path), { headers: authHeaders() });
    if (response.ok) blob = await response.blob();
  } catch (error) {
    if (state.picture.key !== key) return;
    state.picture.key = null;
    note.textContent = `Could not reach the server (${error.message || error}).`;
    return;
  }
  if (state.picture.key !== key) return;
  note.dataset.status = String(response.status);
  if (!blob) {
    const problem = await errorFrom(response.status, response.statusText, await response.text());
    img.hidden = true;
    note.textContent =
      response.status === 409
        ? `No picture of player ${player.number} yet: ${problem.message}`
        : `The picture failed (${response.status} ${problem.type}): ${problem.message}`;
    return;
  }
  if (state.picture.url) URL.revokeObjectURL(state.picture.url);
  state.picture.url = URL.createObjectURL(blob);
  img.src = state.picture.url;
  img.hidden = false;
  const markers = response.headers.get("x-pitchlens-markers") || "?";
  img.dataset.kind = kind;
  img.dataset.trackId = String(player.track_id);
  img.dataset.markers = markers;
  img.alt = `The ${kind} of player ${player.number} (track ${player.track_id}) on the pitch`;
  const team = player.team ? `, ${player.team}` : "";
  note.textContent = `Player ${player.number} (track ${player.track_id}${team}): ${markers} positions ${kind === "path" ? "drawn" : "binned"}; home attacks right.`;
}

function renderPreview() {
  const clip = openClip();
  const preview = state.preview;
  const panel = $("preview-panel");
  const video = $("preview-video");
  if (!clip || !preview) {
    panel.hidden = true;
    if (video.getAttribute("src")) {
      video.removeAttribute("src");
      video.load();
    }
    return;
  }
  panel.hidden = false;
  const busy = BUSY_TASK.has(preview.status);
  const done = preview.status === "SUCCEEDED";
  const failed = preview.status === "FAILED";

  if (clip.approved && done) setBadge($("preview-status"), "Approved", "ok");
  else if (done) setBadge($("preview-status"), "Ready", "");
  else if (failed) setBadge($("preview-status"), "Failed", "failed");
  else setBadge($("preview-status"), preview.status === "PENDING" ? "Queued" : "Rendering", "busy");
  $("preview-status").dataset.status = preview.status;

  $("preview-progress").hidden = !busy;
  if (busy) {
    setProgress($("preview-bar"), preview.progress, { indeterminate: preview.status === "PENDING" && !preview.progress });
    $("preview-label").textContent =
      preview.status === "PENDING" ? "Waiting for a renderer…" : `Rendering preview… ${Math.round((preview.progress || 0) * 100)}%`;
  }

  $("preview-error").hidden = !failed;
  if (failed) {
    $("preview-error").textContent = `The preview failed: ${preview.reason || "no reason given"}`;
    reportTaskFailure(`preview:${preview.task_id}`, "The preview failed", preview.reason);
  }

  $("preview-video-wrap").hidden = !done;
  if (done && preview.preview_url) {
    const src = fileUrl(preview.preview_url);
    if (video.getAttribute("src") !== src) {
      video.setAttribute("src", src);
      video.load();
    }
  } else if (video.getAttribute("src")) {
    video.removeAttribute("src");
    video.load();
  }

  $("preview-actions").hidden = !(done || failed);
  $("approve-button").hidden = !done || clip.approved;
  $("approved-note").hidden = !(done && clip.approved);
}

function renderFinalize() {
  const clips = state.clips;
  const approved = clips.filter((c) => c.approved).length;
  $("approved-count").textContent = clips.length ? `${approved} of ${clips.length} approved` : "";
  const fin = state.finalize;
  const busy = (fin && BUSY_TASK.has(fin.status)) || (state.session && state.session.status === "FINALIZING");
  const button = $("finalize-button");
  button.disabled = !!busy || !state.session;
  button.textContent = busy ? "Finalizing…" : fin && fin.status === "SUCCEEDED" ? "Finalize again" : "Finalize all";
  $("finalize-hint").textContent = approved
    ? "Renders every approved clip at source quality and joins them in clip order."
    : "Approve at least one clip's preview, then render the final video here.";

  $("finalize-progress").hidden = !busy;
  if (busy) {
    const total = fin && fin.total != null ? fin.total : approved;
    const doneCount = fin && fin.done != null ? fin.done : 0;
    setProgress($("finalize-bar"), fin ? fin.progress : 0, { indeterminate: !fin || (fin.status === "PENDING" && !fin.progress) });
    $("finalize-label").textContent = `Rendering ${doneCount} / ${total} clips · ${Math.round(((fin && fin.progress) || 0) * 100)}%`;
  }

  const failed = fin && fin.status === "FAILED";
  $("finalize-error").hidden = !failed;
  if (failed) {
    $("finalize-error").textContent = `The final video failed: ${fin.reason || "no reason given"}`;
    reportTaskFailure(`finalize:${fin.task_id}`, "The final video failed", fin.reason);
  }

  const link = $("download-link");
  // The finalize task's link; before it is known (page just loaded), the session's own final_url.
  const url = fin ? fin.status === "SUCCEEDED" && fin.final_url : state.session && state.session.final_url;
  link.hidden = !url;
  if (url) {
    const href = fileUrl(url);
    if (link.getAttribute("href") !== href) link.setAttribute("href", href);
    link.setAttribute("download", decodeURIComponent(new URL(url, document.baseURI).pathname.split("/").pop() || "final.mp4"));
  } else {
    link.removeAttribute("href");
  }
}

// --- The detection frame on a canvas --------------------------------------------------------
const canvas = () => $("frame-canvas");
let lastStageWidth = 0;

/** Size the canvas to the stage (keeping the frame's aspect ratio) and draw. */
function layoutCanvas() {
  const det = state.detection;
  const c = canvas();
  if (!det) {
    c.width = 0;
    c.height = 0;
    c.style.width = "0px";
    c.style.height = "0px";
    return;
  }
  const stage = $("stage");
  const availableWidth = stage.clientWidth;
  lastStageWidth = availableWidth;
  const availableHeight = Math.max(200, window.innerHeight * 0.62);
  const scale = Math.min(availableWidth / det.width, availableHeight / det.height);
  const cssWidth = Math.max(1, Math.floor(det.width * scale));
  const cssHeight = Math.max(1, Math.floor(det.height * scale));
  const dpr = window.devicePixelRatio || 1;
  c.style.width = `${cssWidth}px`;
  c.style.height = `${cssHeight}px`;
  c.width = Math.round(cssWidth * dpr);
  c.height = Math.round(cssHeight * dpr);
  c.dataset.frameWidth = String(det.width);
  c.dataset.frameHeight = String(det.height);
  drawFrame();
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function drawFrame() {
  const det = state.detection;
  const c = canvas();
  if (!det || !state.image || !c.width) return;
  const ctx = c.getContext("2d");
  const k = c.width / det.width; // device pixels per frame pixel
  const px = (cssPixels) => (cssPixels * (window.devicePixelRatio || 1)) / k; // CSS px -> frame px
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.setTransform(k, 0, 0, k, 0, 0);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(state.image, 0, 0, det.width, det.height);
  if (state.calibrating) {
    drawMarks(ctx, px); // the boxes would hide the lines being marked
    return;
  }

  const selected = det.players.find((p) => p.number === state.selected);
  if (selected) {
    // Dim everything but the chosen player.
    const [x1, y1, x2, y2] = selected.box;
    ctx.save();
    ctx.fillStyle = "rgba(5, 8, 12, 0.45)";
    ctx.beginPath();
    ctx.rect(0, 0, det.width, det.height);
    ctx.rect(x1, y1, x2 - x1, y2 - y1);
    ctx.fill("evenodd");
    ctx.restore();
  }

  ctx.font = `700 ${px(12)}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "center";
  for (const p of det.players) {
    const [x1, y1, x2, y2] = p.box;
    const isSelected = p.number === state.selected;
    const isFocused = p.number === state.focused;
    ctx.lineWidth = px(isSelected ? 3 : isFocused ? 2.5 : 1.5);
    ctx.strokeStyle = isSelected ? "#37d39b" : isFocused ? "#ffffff" : "rgba(255, 255, 255, 0.7)";
    if (isFocused && !isSelected) {
      ctx.fillStyle = "rgba(255, 255, 255, 0.12)";
      ctx.fillRect(x1, y1, x2 - x1, y2 - y1);
    }
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);

    // The number in a tag above the box (inside it when at the top edge).
    const label = String(p.number);
    const tagW = Math.max(px(18), ctx.measureText(label).width + px(8));
    const tagH = px(16);
    let tagY = y1 - tagH - px(2);
    if (tagY < 0) tagY = y1 + px(2);
    const tagX = Math.min(Math.max(0, (x1 + x2) / 2 - tagW / 2), det.width - tagW);
    ctx.fillStyle = isSelected ? "#37d39b" : isFocused ? "#ffffff" : "rgba(16, 22, 31, 0.85)";
    roundRect(ctx, tagX, tagY, tagW, tagH, px(4));
    ctx.fill();
    ctx.fillStyle = isSelected || isFocused ? "#06281c" : "#ffffff";
    ctx.fillText(label, tagX + tagW / 2, tagY + tagH / 2 + px(0.5));
  }

  if (selected) drawIndicator(ctx, selected.box, px);
}

/** A hint of the chosen indicator on the selected player (the renderer draws the real one). */
function drawIndicator(ctx, box, px) {
  const [x1, y1, x2, y2] = box;
  const cx = (x1 + x2) / 2;
  const w = x2 - x1;
  ctx.save();
  ctx.strokeStyle = "#37d39b";
  ctx.fillStyle = "#37d39b";
  if (state.indicator === "circle") {
    ctx.lineWidth = px(2.5);
    ctx.beginPath();
    ctx.ellipse(cx, y2, Math.max(w * 0.75, px(10)), Math.max(w * 0.25, px(4)), 0, 0, Math.PI * 2);
    ctx.stroke();
  } else if (state.indicator === "dot") {
    // A marker above the head, clear of the number tag.
    const r = Math.max(px(5), w * 0.18);
    const tip = Math.max(r * 2, y1 - px(22));
    ctx.beginPath();
    ctx.moveTo(cx, tip);
    ctx.lineTo(cx - r, tip - r * 1.6);
    ctx.lineTo(cx + r, tip - r * 1.6);
    ctx.closePath();
    ctx.fill();
  } else if (state.indicator === "glow") {
    const r = Math.max(w, y2 - y1) * 0.9;
    const g = ctx.createRadialGradient(cx, (y1 + y2) / 2, r * 0.2, cx, (y1 + y2) / 2, r);
    g.addColorStop(0, "rgba(55, 211, 155, 0.35)");
    g.addColorStop(1, "rgba(55, 211, 155, 0)");
    ctx.fillStyle = g;
    ctx.fillRect(cx - r, (y1 + y2) / 2 - r, r * 2, r * 2);
  }
  ctx.restore();
}

/** The frame pixel under a mouse event. */
function framePoint(event) {
  const c = canvas();
  const rect = c.getBoundingClientRect();
  const det = state.detection;
  return {
    x: ((event.clientX - rect.left) / rect.width) * det.width,
    y: ((event.clientY - rect.top) / rect.height) * det.height,
  };
}

/** The player whose box holds the point; the smallest box when boxes overlap. */
function playerAt(point) {
  if (!state.detection) return null;
  let best = null;
  for (const p of state.detection.players) {
    const [x1, y1, x2, y2] = p.box;
    if (point.x >= x1 && point.x <= x2 && point.y >= y1 && point.y <= y2) {
      const area = (x2 - x1) * (y2 - y1);
      if (!best || area < best.area) best = { player: p, area };
    }
  }
  return best ? best.player : null;
}

function setFocused(number) {
  if (state.focused === number) return;
  state.focused = number;
  canvas().classList.toggle("over-player", number != null);
  drawFrame();
}

function selectPlayer(number) {
  state.selected = number;
  renderPlayers();
}

function iou(a, b) {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

// --- Actions --------------------------------------------------------------------------------
async function selectClip(clipId) {
  if (state.clipId === clipId && state.detection) return;
  const clip = state.clips.find((c) => c.clip_id === clipId);
  if (!clip) return;
  state.clipId = clipId;
  state.detection = null;
  state.image = null;
  state.selected = null;
  state.focused = null;
  resetClipTools();
  state.preview = clip.preview || null;
  if (clip.selection && INDICATORS.has(clip.selection.indicator)) state.indicator = clip.selection.indicator;
  layoutCanvas();
  render();
  $("stage-loading").hidden = false;
  try {
    const det = await api("cv/detect", { method: "POST", body: { session_id: state.sessionId, clip_id: clipId } });
    const image = await loadImage(det.image);
    if (state.clipId !== clipId) return;
    state.detection = det;
    state.image = image;
    if (clip.selection) {
      let best = null;
      for (const p of det.players) {
        const score = iou(p.box, clip.selection.box);
        if (score > 0.5 && (!best || score > best.score)) best = { number: p.number, score };
      }
      if (best) state.selected = best.number;
    }
  } catch (error) {
    if (state.clipId === clipId) showError(error, "Finding the players");
  } finally {
    if (state.clipId === clipId) $("stage-loading").hidden = true;
  }
  layoutCanvas();
  render();
  if (anythingInFlight()) kick();
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new ApiError(0, "BadImage", "The detection frame could not be decoded."));
    image.src = src;
  });
}

async function startPreview() {
  const clip = openClip();
  const det = state.detection;
  const player = det && det.players.find((p) => p.number === state.selected);
  if (!clip || !player) return;
  const button = $("preview-button");
  button.disabled = true;
  const body = {
    session_id: state.sessionId,
    clip_id: clip.clip_id,
    box: player.box,
    frame_index: det.frame_index,
    indicator: state.indicator,
  };
  if ($("minimap-input").checked) body.minimap = true;
  try {
    const accepted = await api("cv/preview", { method: "POST", body });
    if (state.clipId !== clip.clip_id) return;
    state.preview = { task_id: accepted.task_id, status: "PENDING", progress: 0, preview_url: null, reason: null };
    clip.approved = false; // a new preview clears the approval
    clip.preview = state.preview;
    render();
    kick();
    $("preview-panel").scrollIntoView({ block: "nearest", behavior: "smooth" });
  } catch (error) {
    showError(error, "Starting the preview");
    renderPlayers();
  }
}

async function approve() {
  const clip = openClip();
  if (!clip) return;
  const button = $("approve-button");
  button.disabled = true;
  try {
    const updated = await api(
      `cv/preview/${encodeURIComponent(state.sessionId)}/${encodeURIComponent(clip.clip_id)}/approve`,
      { method: "POST" },
    );
    const index = state.clips.findIndex((c) => c.clip_id === clip.clip_id);
    if (index >= 0 && updated && updated.clip_id) state.clips[index] = updated;
    else clip.approved = true;
    render();
    $("finalize-button").focus();
  } catch (error) {
    showError(error, "Approving the preview");
  } finally {
    button.disabled = false;
  }
}

function retry() {
  state.preview = null;
  state.selected = null;
  render();
  $("selection-label").textContent = "Pick the player again";
  canvas().focus();
}

async function finalizeAll() {
  const button = $("finalize-button");
  button.disabled = true;
  try {
    await api("cv/finalize-all", { method: "POST", body: { session_id: state.sessionId } });
    const approved = state.clips.filter((c) => c.approved).length;
    state.finalize = { status: "PENDING", progress: 0, done: 0, total: approved, final_url: null, reason: null };
    state.finalizeWatched = true;
    renderFinalize();
    kick();
  } catch (error) {
    showError(error, "Finalizing");
    renderFinalize();
  }
}

// --- Creating a session ---------------------------------------------------------------------
function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function selectedFiles() {
  if (mode() === "videos") return [...$("videos-input").files];
  return [...$("game-video-input").files, ...$("intervals-input").files];
}

function renderFileSummary() {
  const files = selectedFiles();
  const items = files.map((file) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;
    const size = document.createElement("span");
    size.textContent = formatBytes(file.size);
    li.append(name, size);
    return li;
  });
  $("file-summary").replaceChildren(...items);
}

function onModeChange() {
  const isVideos = mode() === "videos";
  $("videos-panel").hidden = !isVideos;
  $("cut-panel").hidden = isVideos;
  renderFileSummary();
}

function invalid(input, message) {
  input.setAttribute("aria-invalid", "true");
  input.focus();
  showProblem("Check the form", message);
  return false;
}

function validateForm() {
  for (const input of document.querySelectorAll("#create-form [aria-invalid]")) input.removeAttribute("aria-invalid");
  if (!$("game-input").value.trim()) return invalid($("game-input"), "Enter the game.");
  if (!$("player-input").value.trim()) return invalid($("player-input"), "Enter the player.");
  if (mode() === "videos") {
    if (!$("videos-input").files.length) return invalid($("videos-input"), "Choose at least one video file.");
  } else {
    if (!$("game-video-input").files.length) return invalid($("game-video-input"), "Choose the game video.");
    if (!$("intervals-input").files.length) return invalid($("intervals-input"), "Choose the intervals CSV.");
    const padding = Number($("padding-input").value || 0);
    if (!Number.isFinite(padding) || padding < 0) return invalid($("padding-input"), "Padding is a number of seconds, 0 or more.");
  }
  return true;
}

function setUploading(uploading) {
  $("create-button").disabled = uploading;
  $("create-button").textContent = uploading ? "Uploading…" : "Create session";
  $("upload-cancel").hidden = !uploading;
  for (const el of document.querySelectorAll("#create-form input")) el.disabled = uploading;
}

// Files go straight to the bucket: the API plans each upload (presigned part URLs), the page PUTs
// the parts (Blob.slice: nothing is read into memory whole), then asks the API to complete them.
function putPart(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    state.upload = xhr;
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      const etag = xhr.getResponseHeader("ETag");
      if (xhr.status >= 200 && xhr.status < 300 && etag) resolve(etag);
      else reject(new ApiError(xhr.status, "StorageError", `The bucket refused a part (${xhr.status}${etag ? "" : ", no ETag"}).`));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "NetworkError", "The upload could not reach the bucket (connection lost or refused).")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "Aborted", "The upload was cancelled.")));
    xhr.send(blob);
  });
}

async function uploadFile(file, plan, onProgress) {
  const parts = [];
  for (const part of plan.parts) {
    const start = (part.number - 1) * plan.part_size;
    const etag = await putPart(part.url, file.slice(start, start + plan.part_size), (loaded) => onProgress(start + loaded));
    parts.push({ number: part.number, etag });
  }
  await api(plan.complete_url, {
    method: "POST",
    body: { kind: plan.kind, key: plan.key, upload_id: plan.upload_id, parts },
  });
  onProgress(file.size);
}

// The first bytes of a video container (the same rule as pitchlens.domain.vision.looks_like_video):
// a file named like a video that is none is refused here, before anything is uploaded.
async function looksLikeVideo(file) {
  const head = new Uint8Array(await file.slice(0, 512).arrayBuffer());
  if (head.length < 12) return false;
  const text = (from, to) => String.fromCharCode(...head.slice(from, to));
  if (["ftyp", "moov", "mdat", "wide", "free", "skip"].includes(text(4, 8))) return true;
  const starts = (bytes) => bytes.every((b, i) => head[i] === b);
  if ([[0x1a, 0x45, 0xdf, 0xa3], [0x52, 0x49, 0x46, 0x46], [0, 0, 1, 0xba], [0, 0, 1, 0xb3]].some(starts)) return true;
  return head.length >= 377 && head[0] === 0x47 && head[188] === 0x47 && head[376] === 0x47;
}

async function createSession(event) {
  event.preventDefault();
  if (state.upload) return;
  if (!validateForm()) return;
  clearError();
  const videos = mode() === "videos" ? [...$("videos-input").files] : [...$("game-video-input").files];
  for (const video of videos) {
    if (!(await looksLikeVideo(video))) {
      const input = mode() === "videos" ? $("videos-input") : $("game-video-input");
      invalid(input, `${video.name} is not a video: its first bytes are no video container's (MP4, MOV, MKV, WebM, AVI, MPEG).`);
      return;
    }
  }
  const spec = (file) => ({ file_name: file.name, size_bytes: file.size });
  const body = { game: $("game-input").value.trim(), player: $("player-input").value.trim() };
  let files;
  if (mode() === "videos") {
    files = [...$("videos-input").files];
    body.videos = files.map(spec);
  } else {
    const video = $("game-video-input").files[0];
    files = [video];
    body.game_video = spec(video);
    body.intervals = await $("intervals-input").files[0].text();
    body.padding = Number($("padding-input").value || 0);
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const bar = $("upload-bar");
  const label = $("upload-label");
  $("upload-progress").hidden = false;
  setProgress(bar, 0);
  label.textContent = `Uploading 0% of ${formatBytes(total)}`;
  setUploading(true);
  state.upload = { abort() {} };
  let created;
  try {
    created = await api("cv/sessions", { method: "POST", body });
    let before = 0;
    for (const [index, file] of files.entries()) {
      await uploadFile(file, created.uploads[index], (loaded) => {
        const done = before + loaded;
        setProgress(bar, total ? done / total : 1);
        label.textContent = `Uploading ${Math.round((done / Math.max(total, 1)) * 100)}% · ${formatBytes(done)} of ${formatBytes(total)}`;
      });
      before += file.size;
    }
    if (body.game_video) await api(`cv/sessions/${encodeURIComponent(created.session.session_id)}/cut`, { method: "POST" });
  } catch (error) {
    state.upload = null;
    setUploading(false);
    if (error.type === "Aborted") {
      $("upload-progress").hidden = true;
      return;
    }
    setProgress(bar, 1, { failed: true });
    label.textContent = created ? "Upload failed" : "Upload refused";
    showError(error, created ? "Uploading" : "Creating the session");
    return;
  }
  state.upload = null;
  setUploading(false);
  setProgress(bar, 1);
  $("upload-progress").hidden = true;
  $("create-form").reset();
  onModeChange();
  goToSession(created.session);
}

// --- Wiring ---------------------------------------------------------------------------------
function bind() {
  $("error-dismiss").addEventListener("click", clearError);
  $("new-session-button").addEventListener("click", goToCreate);
  $("token-button").addEventListener("click", askForToken);
  $("brand-link").addEventListener("click", (e) => {
    e.preventDefault();
    goToCreate();
  });
  $("token-form").addEventListener("submit", () => saveToken($("token-input").value));

  $("create-form").addEventListener("submit", createSession);
  for (const input of document.querySelectorAll('input[name="mode"]')) input.addEventListener("change", onModeChange);
  for (const id of ["videos-input", "game-video-input", "intervals-input"]) $(id).addEventListener("change", renderFileSummary);
  $("upload-cancel").addEventListener("click", () => state.upload && state.upload.abort());

  for (const input of document.querySelectorAll('input[name="indicator"]')) {
    input.addEventListener("change", () => {
      state.indicator = input.value;
      drawFrame();
    });
  }
  $("preview-button").addEventListener("click", startPreview);
  $("calibrate-button").addEventListener("click", toggleCalibration);
  $("calibration-send").addEventListener("click", () => sendCalibration());
  $("calibration-auto").addEventListener("click", () => sendCalibration(true));
  $("calibration-clear").addEventListener("click", () => {
    state.marks = [];
    $("calibration-error").hidden = true;
    renderCalibration();
    drawFrame();
  });
  for (const input of document.querySelectorAll('input[name="picture-kind"]')) {
    input.addEventListener("change", () => {
      state.pictureKind = input.value;
      loadPicture();
    });
  }
  $("approve-button").addEventListener("click", approve);
  $("retry-button").addEventListener("click", retry);
  $("finalize-button").addEventListener("click", finalizeAll);
  $("preview-video").addEventListener("error", () => {
    const video = $("preview-video");
    if (!video.getAttribute("src")) return;
    const code = video.error ? video.error.code : "?";
    showProblem("Playing the preview failed", `The browser could not load the preview video (media error ${code}).`);
  });

  const c = canvas();
  c.addEventListener("mousemove", (e) => {
    if (!state.detection || state.calibrating) return;
    const p = playerAt(framePoint(e));
    setFocused(p ? p.number : null);
  });
  c.addEventListener("mouseleave", () => setFocused(null));
  c.addEventListener("click", (e) => {
    if (!state.detection) return;
    if (state.calibrating) {
      markLandmark(framePoint(e));
      return;
    }
    const p = playerAt(framePoint(e));
    if (p) selectPlayer(p.number);
    else $("selection-label").textContent = "Click inside a player's box";
  });
  c.addEventListener("keydown", (e) => {
    const players = state.detection ? state.detection.players : [];
    if (!players.length) return;
    const numbers = players.map((p) => p.number);
    const current = numbers.indexOf(state.focused ?? state.selected ?? -1);
    if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(e.key)) {
      e.preventDefault();
      const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : -1;
      const next = current < 0 ? (step > 0 ? 0 : numbers.length - 1) : (current + step + numbers.length) % numbers.length;
      setFocused(numbers[next]);
      $("selection-label").textContent = `Player ${numbers[next]} — press Enter to select`;
    } else if ((e.key === "Enter" || e.key === " ") && state.focused != null) {
      e.preventDefault();
      selectPlayer(state.focused);
    } else if (/^[1-9]$/.test(e.key) && numbers.includes(Number(e.key))) {
      selectPlayer(Number(e.key));
    }
  });
  c.addEventListener("blur", () => setFocused(null));

  new ResizeObserver(() => {
    if ($("stage").clientWidth !== lastStageWidth) layoutCanvas();
  }).observe($("stage"));
  window.addEventListener("resize", layoutCanvas);
  window.addEventListener("popstate", route);
}

async function init() {
  bind();
  try {
    state.config = await api("cv/config", { auth: false });
  } catch (error) {
    showError(error, "Loading the configuration");
  }
  $("token-button").hidden = !state.config.token_required;
  if (state.config.token_required && !state.token) askForToken();
  route();
}

init();
