// Match data on the page: the stored matches (GET /api/v1/matches) and the chosen one's shot map
// (GET /api/v1/matches/{id}/plots/shots.png, drawn by the server with mplsoccer). Independent of the
// session workflow in app.js; reads the API token the same way (kept in this browser only).
const TOKEN_KEY = "pitchlens.apiToken";
const $ = (id) => document.getElementById(id);

function token() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

function url(path, params = {}) {
  const full = new URL(path.replace(/^\//, ""), document.baseURI);
  for (const [name, value] of Object.entries(params)) if (value) full.searchParams.set(name, value);
  if (token()) full.searchParams.set("token", token());
  return full.toString();
}

async function getJson(path, params) {
  const response = await fetch(url(path, params), { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

let matches = [];

function showShotMap() {
  const match = matches.find((m) => m.match_id === $("match-select").value);
  if (!match) return;
  const team = $("shot-team").value;
  const image = $("shot-map");
  image.src = url(`/api/v1/matches/${encodeURIComponent(match.match_id)}/plots/shots.png`, { team });
  $("shot-map-caption").textContent =
    `${match.home_team} v ${match.away_team}` + (match.competition ? ` · ${match.competition}` : "") +
    " · shots sized by xG, goals filled; home attacks right";
}

function chooseMatch() {
  const match = matches.find((m) => m.match_id === $("match-select").value);
  const teams = $("shot-team");
  teams.replaceChildren(new Option("Both teams", ""));
  if (match) for (const name of [match.home_team, match.away_team]) teams.add(new Option(name, name));
  showShotMap();
}

async function load() {
  let page;
  try {
    page = await getJson("/api/v1/matches", { limit: "100" });
  } catch {
    return; // no token yet, or no API: the card stays hidden
  }
  matches = page.matches;
  if (!matches.length) return;
  const select = $("match-select");
  for (const m of matches) select.add(new Option(`${m.home_team} v ${m.away_team} (${m.match_id})`, m.match_id));
  $("matches-count").textContent = `${page.total} stored`;
  select.addEventListener("change", chooseMatch);
  $("shot-team").addEventListener("change", showShotMap);
  $("shot-map").addEventListener("error", () => {
    $("shot-map-caption").textContent = "The shot map could not be drawn (the server needs the plots extra).";
  });
  $("matches-card").hidden = false;
  chooseMatch();
}

load();
