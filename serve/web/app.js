// drgrade's page: posts each chosen photo to /v1/grade and shows the answer. Plain DOM, no
// libraries; every server or file-supplied string goes through textContent, never innerHTML.
"use strict";

const $ = (id) => document.getElementById(id);
const rows = []; // the session's results, for the table and the CSV
let classes = ["No DR", "Mild", "Moderate", "Severe", "Proliferative DR"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function headers() {
  const h = {};
  const t = $("token").value.trim();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

function status(msg, isError) {
  $("status").textContent = msg;
  $("status").className = isError ? "error" : "";
}

async function info() {
  try {
    const r = await fetch("v1/info", { headers: headers() });
    if (r.status === 401) {
      $("auth").open = true;
      $("model").textContent = "this server needs an access token";
      return;
    }
    const j = await r.json();
    classes = j.classes;
    let s = "model " + j.model + " · weights sha256 " + j.weights_sha256.slice(0, 12) + " · input " + j.input_size + " px";
    if (j.temperature) s += " · temperature " + j.temperature.toFixed(3);
    if (j.referral) s += " · refer at P(referable) ≥ " + j.referral.operating_point.threshold.toFixed(4) + " (" + j.referral.operating_point.name + ")";
    $("model").textContent = s;
  } catch (e) {
    $("model").textContent = "cannot reach the server: " + e;
  }
}

function fmt(p) { return p === undefined || p === null ? "" : p.toFixed(4); }

function card(file, url) {
  const c = el("div", "card");
  c.appendChild(el("h3", null, file.name));
  const pics = el("div", "pics");
  const img = el("img");
  img.alt = "photo";
  img.src = url;
  pics.appendChild(img);
  c.appendChild(pics);
  const body = el("div", "body", "grading…");
  c.appendChild(body);
  $("cards").prepend(c);
  return { c, pics, body };
}

function show(view, res) {
  view.body.textContent = "";
  if (res.overlay_png) {
    const ov = el("img", "overlay");
    ov.alt = "Grad-CAM heatmap";
    ov.src = "data:image/png;base64," + res.overlay_png;
    view.pics.appendChild(ov);
  }
  const g = el("div", "grade", "Grade " + res.grade + ": " + res.grade_name);
  if (res.refer !== undefined) {
    const r = el("span", res.refer ? "refer-yes" : "refer-no", res.refer ? " — refer" : " — no referral");
    g.appendChild(r);
  }
  view.body.appendChild(g);
  const bars = el("div", "bars");
  const top = res.probabilities.indexOf(Math.max(...res.probabilities));
  res.probabilities.forEach((p, i) => {
    bars.appendChild(el("span", null, i + " " + (classes[i] || "")));
    const b = el("div", "bar");
    const f = el("div", i === top ? "top" : "");
    f.style.width = (100 * p).toFixed(1) + "%";
    b.appendChild(f);
    bars.appendChild(b);
    bars.appendChild(el("span", "num", fmt(p)));
  });
  view.body.appendChild(bars);
  const extra = [];
  if (res.p_referable !== undefined) extra.push("P(referable) " + fmt(res.p_referable));
  if (res.p_any_dr !== undefined) extra.push("P(any DR) " + fmt(res.p_any_dr));
  if (extra.length) view.body.appendChild(el("p", null, extra.join(" · ")));
}

function addRow(name, res) {
  const row = { n: rows.length + 1, name, grade: res.grade, grade_name: res.grade_name, probabilities: res.probabilities,
    p_referable: res.p_referable, p_any_dr: res.p_any_dr, refer: res.refer };
  rows.push(row);
  const tr = el("tr");
  tr.appendChild(el("td", null, String(row.n)));
  tr.appendChild(el("td", null, name));
  tr.appendChild(el("td", "grade-cell", String(res.grade)));
  tr.appendChild(el("td", null, res.grade_name));
  tr.appendChild(el("td", "p", fmt(res.p_referable)));
  tr.appendChild(el("td", "p", fmt(res.p_any_dr)));
  tr.appendChild(el("td", null, res.refer === undefined ? "" : (res.refer ? "yes" : "no")));
  document.querySelector("#results tbody").appendChild(tr);
  $("csv").disabled = false;
}

async function grade(file) {
  const url = URL.createObjectURL(file);
  const view = card(file, url);
  const form = new FormData();
  form.append("image", file, file.name);
  const q = $("explain").checked ? "?explain=1" : "";
  try {
    const r = await fetch("v1/grade" + q, { method: "POST", body: form, headers: headers() });
    const j = await r.json();
    if (!r.ok) {
      view.body.textContent = "";
      view.body.appendChild(el("p", "error", j.error || ("HTTP " + r.status)));
      if (r.status === 401) $("auth").open = true;
      return false;
    }
    show(view, j.results[0]);
    addRow(file.name, j.results[0]);
    return true;
  } catch (e) {
    view.body.textContent = "";
    view.body.appendChild(el("p", "error", "request failed: " + e));
    return false;
  }
}

async function gradeAll(files) {
  let ok = 0;
  const list = Array.from(files);
  for (let i = 0; i < list.length; i++) {
    status("grading " + (i + 1) + " of " + list.length + "…");
    if (await grade(list[i])) ok++;
  }
  status("graded " + ok + " of " + list.length + (ok < list.length ? " (see the errors above)" : ""), ok < list.length);
}

function csvCell(v) {
  let s = v === undefined || v === null ? "" : String(v);
  if (/^[=+\-@]/.test(s)) s = "'" + s; // a spreadsheet must not run a file name as a formula
  return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// csvText is the session table as CSV (also what the tests read).
function csvText() {
  const head = ["n", "image", "grade", "grade_name"].concat(classes.map((c, i) => "prob_" + i), ["p_referable", "p_any_dr", "refer"]);
  const lines = [head.join(",")];
  for (const r of rows) {
    const cells = [r.n, r.name, r.grade, r.grade_name].concat(r.probabilities, [r.p_referable, r.p_any_dr,
      r.refer === undefined ? "" : (r.refer ? "yes" : "no")]);
    lines.push(cells.map(csvCell).join(","));
  }
  return lines.join("\n") + "\n";
}

function saveCSV() {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([csvText()], { type: "text/csv" }));
  a.download = "drgrade-session.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

$("file").addEventListener("change", (e) => { gradeAll(e.target.files); e.target.value = ""; });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); gradeAll(e.dataTransfer.files); });
$("csv").addEventListener("click", saveCSV);
$("token").addEventListener("change", info);
info();
