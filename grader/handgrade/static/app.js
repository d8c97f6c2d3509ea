// The hand-grading page: one question at a time across every submission, by keyboard. Everything from the
// server goes in as text, except the answer, which the server rendered (escaped text in the renderer's own
// Markdown tags, and allowlisted MathML).
"use strict";

const TOKEN = location.pathname.split("/")[1];
const $ = (id) => document.getElementById(id);
// item/sub: what is asked for; shown: the submission on screen (its key, item and number) once its reply is in.
const view = {state: null, item: 0, sub: 0, grade: null, rubric: [], reveal: false, shown: null, pointsShown: ""};
let loads = 0;  // each load() takes a number; a reply to an older one than the latest is dropped

function fmt(x) { return Number.isInteger(x) ? String(x) : String(Math.round(x * 1000) / 1000); }
function signed(x) { return (x > 0 ? "+" : x < 0 ? "−" : "±") + fmt(Math.abs(x)); }

function say(text, ok) {
  const box = $("message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
}

async function call(method, path, body) {
  const options = {method, headers: {}};
  if (body) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify({...body, token: TOKEN});
  }
  const reply = await fetch(path, options);
  const data = await reply.json().catch(() => ({error: `the server answered ${reply.status}`}));
  if (!reply.ok) {
    const error = new Error(data.error || `the server answered ${reply.status}`);
    error.status = reply.status;
    throw error;
  }
  if (data.status) showStatus(data.status);
  return data;
}

const USUAL = ["starting", "updating files", "still updating the files", "files up to date"];

function showStatus(status) {  // anything else is a problem with the files: shown so it is not missed
  $("status").textContent = status;
  $("status").className = USUAL.includes(status) ? "" : "problem";
}

function item() { return view.state.items[view.item]; }

function showProgress() {
  const graded = new Set(item().graded);
  $("progress").textContent = `${graded.size} of ${view.state.subs.length} graded`;
}

function exact(x) { return x === null ? "" : String(x); }  // the stored value as it is: 7.3333 stays 7.3333

function showGrade() {
  const g = view.grade, it = item(), typing = document.activeElement;
  view.pointsShown = exact(g.typed);
  if (typing !== $("points")) $("points").value = view.pointsShown;  // never under the cursor
  if (typing !== $("comment")) $("comment").value = g.comment;
  $("total").textContent = g.points === null ? "not graded" : `${fmt(g.points)} of ${fmt(it.max)}`;
  $("feedback").textContent = g.feedback || "(nothing yet)";
  const list = $("rubric");
  list.replaceChildren();
  view.rubric.forEach((r, n) => list.append(rubricRow(r, n, g.applied.includes(r.id))));
}

function rubricRow(r, n, on) {
  const li = document.createElement("li");
  const apply = document.createElement("button");
  apply.type = "button";
  apply.className = "apply";
  apply.setAttribute("aria-pressed", String(on));
  apply.dataset.id = r.id;
  const key = document.createElement("kbd");
  key.textContent = n < 9 ? String(n + 1) : "";
  apply.append(key, ` ${r.text} (${signed(r.delta)})`);
  apply.addEventListener("click", () => toggle(r.id));
  const edit = document.createElement("button");
  edit.type = "button";
  edit.textContent = "edit";
  edit.className = "edit";
  edit.addEventListener("click", () => editRow(li, r));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "delete";
  remove.addEventListener("click", () => removeItem(r));
  li.append(apply, edit, remove);
  return li;
}

function editRow(li, r) {
  const form = document.createElement("form");
  form.className = "rubric-edit";
  const text = Object.assign(document.createElement("input"), {value: r.text, className: "edit-text"});
  const delta = Object.assign(document.createElement("input"), {value: exact(r.delta), size: 5,
                                                                className: "edit-delta"});
  const save = Object.assign(document.createElement("button"), {type: "submit", textContent: "save for all"});
  form.append(text, delta, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await change(async () => {
      await call("POST", "api/rubric", {item: view.shown.item, id: r.id, version: r.version, text: text.value,
                                        delta: delta.value === exact(r.delta) ? r.delta : delta.value});
      return "Rubric item changed for every submission that has it.";
    });
  });
  li.replaceChildren(form);
  text.focus();
}

// Run a change, then show the saved state, then say how it went: once the message shows, the page is current.
async function change(action) {
  let note = "", ok = true;
  try {
    note = (await action()) || "";
  } catch (error) {
    note = `Not saved: ${error.message}`;
    ok = false;
  }
  try {
    await load();
  } catch (error) {
    note = `${note} The page could not be brought up to date: ${error.message} (reload it).`.trim();
    ok = false;
  }
  say(note, ok);
}

// Show another submission or question; a failure is said on the page, not lost in the console.
async function show() {
  try {
    await load();
  } catch (error) {
    say(`Could not load this submission: ${error.message}`);
  }
}

// The points and comment as typed, for the submission on screen; points as stored unless the TA changed them.
function typedGrade() {
  const points = $("points").value;
  return {item: view.shown.item, key: view.shown.key, version: view.grade.version, comment: $("comment").value,
          points: points === view.pointsShown ? view.grade.typed : points};
}

function unsaved() {
  return $("points").value !== view.pointsShown || $("comment").value !== view.grade.comment;
}

async function toggle(id) {
  if (!view.grade || !view.shown) return;
  const on = !view.grade.applied.includes(id);
  await change(async () => {
    let version = view.grade.version;
    if (unsaved()) version = (await call("POST", "api/grade", typedGrade())).grade.version;  // typed points kept
    await call("POST", "api/apply", {item: view.shown.item, key: view.shown.key, version, rubric: id, on});
    return "";
  });
}

async function removeItem(r) {
  if (!confirm(`Delete "${r.text}" from every submission that has it?`)) return;
  await change(() => call("POST", "api/rubric/delete", {item: view.shown.item, id: r.id, version: r.version}));
}

async function save() {
  if (!view.grade || !view.shown) return;
  const body = typedGrade(), number = view.shown.number;
  await change(async () => {
    await call("POST", "api/grade", body);
    return `Saved submission ${number}.`;
  });
}

async function load() {
  const mine = ++loads;
  const state = await call("GET", "api/state");
  const it = state.items[view.item], asked = state.subs[view.sub];
  const data = await call("GET", `api/grade?item=${encodeURIComponent(it.id)}&key=${asked.key}` +
                                 (view.reveal ? "&reveal=1" : ""));
  if (mine !== loads) return;  // the TA moved on meanwhile: the later load shows its own submission
  view.state = state;
  view.shown = {key: data.key, item: it.id, number: data.number};
  view.grade = data.grade;
  view.rubric = data.rubric;
  $("who").textContent = `Submission ${data.number} of ${view.state.subs.length}` +
                         (data.graded_by === "graded" ? "" : ` (${data.graded_by})`);
  $("name").textContent = data.name ? `— ${data.name}` : "";
  $("name").hidden = !data.name;
  $("note").textContent = data.note;
  $("note").hidden = !data.note;
  $("answer").innerHTML = data.answer;  // rendered by the server: escaped text, fixed tags, allowlisted MathML
  $("answer").hidden = !data.answer;
  $("max").textContent = fmt(item().max);
  $("start").value = item().start;
  $("question").value = String(view.item);
  $("batch").textContent = `— ${view.state.batch}`;
  showProgress();
  showGrade();
  document.body.dataset.key = data.key;
  document.body.dataset.version = String(view.grade.version);
}

async function go(step) {
  const count = view.state.subs.length;
  view.sub = (view.sub + step + count) % count;
  say("");
  await show();
}

async function nextUngraded() {
  const graded = new Set(item().graded), subs = view.state.subs;
  for (let n = 1; n <= subs.length; n++) {
    const at = (view.sub + n) % subs.length;
    if (!graded.has(subs[at].key)) { view.sub = at; say(""); return show(); }
  }
  say("Every submission has a grade for this question.", true);
}

async function question(step) {
  view.item = (view.item + step + view.state.items.length) % view.state.items.length;
  say("");
  await show();
}

function typing(target) { return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName); }

document.addEventListener("keydown", async (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (typing(target)) {
    if (event.key === "Escape") { target.blur(); showGrade(); }
    else if (event.key === "Enter" && !event.shiftKey && (target.id === "points" || target.id === "comment")) {
      event.preventDefault();
      target.blur();
      await save();
    }
    return;
  }
  // j/k only: the arrow keys and the space bar stay the browser's, to scroll a long answer
  const keys = {j: () => go(1), k: () => go(-1), u: nextUngraded, "]": () => question(1),
                "[": () => question(-1), g: () => { $("points").focus(); $("points").select(); },
                c: () => $("comment").focus(),
                s: () => { $("reveal").checked = !$("reveal").checked; return reveal(); },
                "?": () => say($("help").textContent.replace(/\s+/g, " ").trim(), true)};
  if (/^[1-9]$/.test(event.key)) {
    event.preventDefault();
    const r = view.rubric[Number(event.key) - 1];
    if (r) await toggle(r.id);
  } else if (keys[event.key]) {
    event.preventDefault();
    await keys[event.key]();
  }
});

async function reveal() {
  view.reveal = $("reveal").checked;
  await show();
}

async function start() {
  $("grade-form").addEventListener("submit", (event) => { event.preventDefault(); save(); });
  $("rubric-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await change(async () => {
      await call("POST", "api/rubric", {item: view.shown.item, id: null, version: 0, text: $("rubric-text").value,
                                        delta: $("rubric-delta").value});
      $("rubric-text").value = "";
      $("rubric-delta").value = "";
      return "Rubric item added: press its number to apply it.";
    });
  });
  $("start").addEventListener("change", () => change(() => call("POST", "api/start",
                                                                 {item: view.shown.item, start: $("start").value})));
  $("reveal").addEventListener("change", reveal);
  $("question").addEventListener("change", () => { view.item = Number($("question").value); say(""); show(); });
  $("publish").addEventListener("click", () => change(async () => {
    showStatus("updating files");
    const data = await call("POST", "api/publish", {});
    return `Published: ${data.status}.`;
  }));
  view.state = await call("GET", "api/state");
  const select = $("question");
  view.state.items.forEach((it, n) => select.append(new Option(`${it.title} (${fmt(it.max)})`, String(n))));
  await load();
  document.body.dataset.ready = "1";
  setInterval(() => call("GET", "api/status").catch(() => showStatus("server not answering")),
              3000);
}

start().catch((error) => say(`The page could not load: ${error.message}`));
