// weft studio's page: no framework, nothing fetched but weft's own answers. The list of events is virtual: only
// the rows in view exist, fetched a window at a time, filtered by weft.
"use strict";
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const ROW = 22, WINDOW = 200;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const child of children.flat()) if (child != null) node.append(child instanceof Node ? child : String(child));
  return node;
}
const pretty = (value) => el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2));

async function api(path, params, body) {
  const query = new URLSearchParams(params || {});
  const response = await fetch(path + "?" + query, {
    method: body === undefined ? "GET" : "POST", headers: { "x-weft-token": TOKEN }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

// ---- pages and keys ----
let page = "events";
function show(name) {
  page = name;
  for (const tab of document.querySelectorAll("nav button")) tab.setAttribute("aria-selected", String(tab.dataset.page === name));
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== "page-" + name;
  if (name === "diff") drawDiff();
  if (name === "letters") drawLetters();
  if (name === "status") drawStatus();
  if (name === "events") $("list").focus();
}
for (const tab of document.querySelectorAll("nav button")) tab.addEventListener("click", () => show(tab.dataset.page));
document.addEventListener("keydown", (e) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (e.key === "Escape" && typing) { document.activeElement.blur(); $("list").focus(); return; }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const pages = { 1: "events", 2: "diff", 3: "letters", 4: "status" };
  if (pages[e.key]) { show(pages[e.key]); e.preventDefault(); }
  else if (e.key === "/") { show("events"); $("search").focus(); e.preventDefault(); }
  else if (page === "events" && ["ArrowDown", "j"].includes(e.key)) { pick(picked + 1); e.preventDefault(); }
  else if (page === "events" && ["ArrowUp", "k"].includes(e.key)) { pick(Math.max(0, picked - 1)); e.preventDefault(); }
  else if (page === "events" && e.key === "PageDown") { pick(picked + pageRows()); e.preventDefault(); }
  else if (page === "events" && e.key === "PageUp") { pick(Math.max(0, picked - pageRows())); e.preventDefault(); }
});

// ---- the judgement on show ----
let generation = -1, state = null;
async function poll() {
  try {
    const now = await api("/api/state");
    if (now.generation !== generation) { generation = now.generation; state = now; redraw(); }
  } catch (e) { $("judged").textContent = "weft studio is not answering: " + e.message; }
  setTimeout(poll, 400);
}
function redraw() {
  const j = state.judgement, c = j.counts;
  $("rules-name").textContent = "rules: " + (j.version || state.rules) + (state.against ? "  against: " + (j.againstVersion || state.against) : "");
  $("judged").textContent = `judgement ${state.generation}: ${c.events} events in ${j.milliseconds} ms` + (state.generation > 1 ? `, ${j.changed} changed since the last` : "");
  $("load-error").hidden = !state.error;
  $("load-error").textContent = state.error ? "The rules on disk do not load; the verdicts below are the last good ones.\n" + state.error : "";
  $("counts").replaceChildren(
    el("span", { id: "count-events" }, el("b", {}, c.events), " events"),
    el("span", { id: "count-written", class: "v-records" }, el("b", {}, c.written), " written"),
    el("span", { id: "count-dropped", class: "v-dropped" }, el("b", {}, c.dropped), " dropped"),
    el("span", { id: "count-dead", class: "v-dead-letter" }, el("b", {}, c.deadLettered), " dead-lettered"),
    el("span", { id: "count-changed" }, el("b", {}, j.changed), " changed since the last judgement"));
  options($("filter-kind"), "every kind", c.kinds);
  options($("filter-rule"), "every rule", c.rules);
  $("timing").textContent = j.timing || "(no rule ran)";
  refreshList();
  if (page === "diff") drawDiff();
}
function options(select, all, counts) {
  const keep = select.value;
  select.replaceChildren(el("option", { value: "" }, all), ...Object.entries(counts).map(([k, n]) => el("option", { value: k }, `${k} (${n})`)));
  select.value = keep;
}

// ---- the virtual list ----
// `asked` counts the list's refreshes: a window asked for before the latest one is not the list on show.
let cache = new Map(), total = 0, picked = -1, asking = new Set(), asked = 0;
const filters = () => ({ q: $("search").value.trim(), verdict: $("filter-verdict").value, kind: $("filter-kind").value, rule: $("filter-rule").value, changed: $("filter-changed").checked ? "1" : "" });
function pageRows() { return Math.max(1, Math.floor($("list").clientHeight / ROW) - 1); }
async function refreshList() {
  cache = new Map(); asking = new Set(); asked += 1;
  await fetchWindow(Math.floor($("list").scrollTop / ROW / WINDOW) * WINDOW);
  if (picked >= total) picked = total - 1;
  drawRows();
  if (picked >= 0) openEvent(cache.get(picked));
}
async function fetchWindow(from) {
  if (asking.has(from)) return;
  asking.add(from);
  const mine = asked, answer = await api("/api/rows", { ...filters(), from, count: WINDOW });
  if (mine !== asked) return;
  total = answer.total;
  answer.rows.forEach((row, n) => cache.set(from + n, row));
  $("list-space").style.height = total * ROW + "px";
  $("shown").textContent = `${total} shown`;
}
function drawRows() {
  const list = $("list"), first = Math.floor(list.scrollTop / ROW), last = Math.min(total, first + Math.ceil(list.clientHeight / ROW) + 1);
  const rows = [];
  for (let i = first; i < last; i++) {
    const row = cache.get(i);
    if (!row) { fetchWindow(Math.floor(i / WINDOW) * WINDOW).then(drawRows); break; }
    rows.push(el("div", { class: "row" + (i === picked ? " picked" : "") + (row.changed ? " changed" : ""), style: `top:${i * ROW}px`, role: "option", "aria-selected": String(i === picked), "data-id": row.id, onclick: () => pick(i) },
      el("span", { class: "verdict v-" + row.verdict }, row.verdict), (row.kind || "other").padEnd(16, " "), " ", row.id, "  ", el("span", { class: "muted" }, row.summary)));
  }
  $("list-space").replaceChildren(...rows);
}
$("list").addEventListener("scroll", drawRows);
for (const id of ["filter-verdict", "filter-kind", "filter-rule", "filter-changed"]) $(id).addEventListener("change", () => { picked = -1; $("list").scrollTop = 0; refreshList(); });
// Enter in the search box goes to the first event found.
$("search").addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(searching); picked = -1; refreshList().then(() => { $("list").focus(); pick(0); }); } });
let searching;
$("search").addEventListener("input", () => { clearTimeout(searching); searching = setTimeout(() => { picked = -1; $("list").scrollTop = 0; refreshList(); }, 150); });
async function pick(i) {
  if (total === 0) return;
  picked = Math.min(i, total - 1);
  const list = $("list");
  if (picked * ROW < list.scrollTop) list.scrollTop = picked * ROW;
  if ((picked + 1) * ROW > list.scrollTop + list.clientHeight) list.scrollTop = (picked + 1) * ROW - list.clientHeight;
  if (!cache.has(picked)) await fetchWindow(Math.floor(picked / WINDOW) * WINDOW);
  drawRows();
  openEvent(cache.get(picked));
}

// ---- one event ----
async function openEvent(row) {
  if (!row) return;
  const event = await api("/api/event", { index: row.index });
  $("detail").replaceChildren(
    el("div", { class: "muted" }, `${event.row.id} · ${event.source}`),
    el("div", { class: "sides" },
      el("div", {}, el("h3", {}, "Envelope"), pretty(event.envelope)),
      el("div", { id: "verdict" }, el("h3", {}, "Verdict"), drawVerdict(event.verdict),
        event.against ? [el("h3", {}, "Against " + (state.judgement.againstVersion || state.against)), drawVerdict(event.against)] : null)));
}
function drawVerdict(v) {
  if (v.verdict === "records") return el("div", {}, v.records.length === 0 ? el("p", {}, "no records") : v.records.map((r) =>
    el("div", { class: "record" }, el("div", {}, el("b", {}, `${r.rule} #${r.index}`), ` → ${r.stream || "(default stream)"} · key `, el("code", {}, r.record.partitionKey)), pretty(r.record.data))));
  if (v.verdict === "dropped") return el("div", { class: "v-dropped" }, el("p", {}, `dropped by ${v.dropped.rule || "(the input stage)"}: `, el("b", { class: "reason" }, v.dropped.reason)));
  const d = v.deadLetter;
  return el("div", { class: "v-dead-letter" }, el("p", {}, "dead-lettered at ", el("b", {}, d.stage), ", class ", el("b", { class: "class" }, d.errorClass), d.rule ? ` (rule ${d.rule})` : ""), pretty(d.reason));
}

// ---- the diff ----
async function drawDiff() {
  const answer = await api("/api/diff");
  const r = answer.report, out = $("diff");
  if (!r) { out.replaceChildren(el("p", {}, "Start the studio with --against MANIFEST (or builtin:default) to see what these rules change.")); return; }
  const link = (id) => answer.links[id] === undefined ? el("code", {}, id) : el("a", { onclick: () => goTo(id) }, id);
  const split = (value) => { const at = value.indexOf(" -> "); return at < 0 ? [value, ""] : [value.slice(0, at), value.slice(at + 4)]; };
  const examples = (ex) => el("ul", {}, ex.events.map((id, n) => el("li", {}, link(id),
    ex.values[n] !== undefined ? [" ", el("span", { class: "old" }, split(ex.values[n])[0]), " → ", el("span", { class: "new" }, split(ex.values[n])[1])] : null)));
  out.replaceChildren(el("div", {},
    el("p", { id: "diff-summary" }, `${r.eventsChanged} of ${r.events} events change from ${answer.against || state.against} to ${answer.version || state.rules}.`),
    el("h3", {}, "Records per rule and stream"),
    el("table", {}, el("tr", {}, el("th", {}, "rule → stream"), el("th", {}, "added"), el("th", {}, "removed"), el("th", {}, "changed")),
      Object.entries(r.records).map(([k, c]) => el("tr", {}, el("td", {}, k), el("td", { class: "n" }, c.added), el("td", { class: "n" }, c.removed), el("td", { class: "n" }, c.changed)))),
    el("h3", {}, "Changed paths"),
    el("table", { id: "diff-paths" }, Object.entries(r.paths).map(([path, ex]) => el("tr", {}, el("td", {}, el("code", {}, path)), el("td", { class: "n" }, ex.count), el("td", {}, examples(ex))))),
    r.otherPaths ? el("p", {}, `${r.otherPaths} more changes at other paths`) : null,
    el("h3", {}, "Changed outcomes"),
    el("table", { id: "diff-outcomes" }, Object.entries(r.outcomes).map(([o, ex]) => el("tr", {}, el("td", {}, o), el("td", { class: "n" }, ex.count), el("td", {}, examples(ex))))),
    r.otherOutcomes ? el("p", {}, `${r.otherOutcomes} more changes of outcome`) : null));
}
function goTo(id) { show("events"); $("search").value = id; picked = -1; refreshList().then(() => pick(0)); }

// ---- dead letters ----
let letters = [], chosen = new Set();
async function drawLetters(answer) {
  answer = answer || await api("/api/letters");
  letters = answer.letters;
  $("letters-source").textContent = answer.queue ? `queue ${answer.queue}${answer.more ? " (the first 10,000)" : ""}: peeked, nothing consumed` : answer.file ? `file ${answer.file}` : "no dead letters given (--dlq URL or --dead-letters FILE)";
  $("letters-reload").hidden = !answer.queue && !answer.file;
  const groups = new Map();
  for (const l of letters) { const key = `${l.stage} · ${l.class} · ${l.rule || "no rule"}`; if (!groups.has(key)) groups.set(key, []); groups.get(key).push(l); }
  chosen = new Set([...chosen].filter((id) => letters.some((l) => l.id === id)));
  $("letters").replaceChildren(...[...groups].map(([key, ls]) => el("div", { class: "group" }, el("h3", {}, `${key} (${ls.length})`),
    ls.map((l) => el("div", { class: "letter", "data-id": l.id, tabindex: "0", onclick: () => openLetter(l.index), onkeydown: (e) => { if (e.key === "Enter") openLetter(l.index); } },
      answer.queue ? el("input", { type: "checkbox", "aria-label": "select " + l.id, ...(chosen.has(l.id) ? { checked: "" } : {}), onclick: (e) => { e.stopPropagation(); e.target.checked ? chosen.add(l.id) : chosen.delete(l.id); $("letters-redrive").disabled = chosen.size === 0; } }) : null,
      el("span", {}, l.eventId || l.id), el("span", { class: "muted" }, l.reason))))));
  $("letters-redrive").disabled = chosen.size === 0;
}
async function openLetter(index) {
  const l = await api("/api/letter", { index });
  $("letter").replaceChildren(el("div", { class: "muted" }, l.id),
    el("p", {}, "stage ", el("b", {}, l.letter.stage), ", class ", el("b", { class: "class" }, l.letter.errorClass), l.letter.rule ? `, rule ${l.letter.rule}` : "", `, failed at ${l.letter.failedAt}`),
    pretty(l.letter.reason),
    el("div", { class: "sides" }, el("div", {}, el("h3", {}, "Event"), pretty(l.event)),
      el("div", { id: "preview" }, el("h3", {}, "Judged with the current rules (what a redrive would write)"), drawVerdict(l.preview))));
}
$("letters-reload").addEventListener("click", async () => drawLetters(await api("/api/letters/reload", {}, {})));
$("letters-redrive").addEventListener("click", async () => {
  $("letters-said").textContent = "redriving…";
  try {
    const answer = await api("/api/redrive", {}, { ids: [...chosen] });
    chosen.clear();
    $("letters-said").textContent = [answer.said, ...answer.notes].join("\n");
    drawLetters(answer.letters);
  } catch (e) { $("letters-said").textContent = e.message; }
});

// ---- a published rule set's status ----
async function drawStatus() {
  const out = $("status");
  out.replaceChildren(el("p", { class: "muted" }, "asking S3…"));
  try {
    const s = await api("/api/status");
    if (!s.location) { out.replaceChildren(el("p", {}, "Status is for a published rule set: start the studio with --rules s3://BUCKET/PREFIX/manifest.json.")); return; }
    const deployments = Object.entries(s.rules.deployments || {});
    out.replaceChildren(el("h3", {}, s.location),
      el("p", {}, "published: ", el("b", {}, s.rules.published ? s.rules.published.version || JSON.stringify(s.rules.published) : "none")),
      el("p", {}, "candidate: ", s.rules.candidate ? pretty(s.rules.candidate) : "none"),
      el("h3", {}, "Deployments"), deployments.length ? el("table", {}, deployments.map(([f, st]) => el("tr", {}, el("td", {}, f), el("td", {}, pretty(st))))) : el("p", {}, "none has reported yet"),
      el("h3", {}, "Tables"), s.tables.lines ? pretty(s.tables.lines.join("\n")) : el("p", {}, s.tables.error),
      el("details", {}, el("summary", {}, "weft rules status, whole"), pretty(s.rules)));
  } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); }
}

poll();
$("list").focus();
