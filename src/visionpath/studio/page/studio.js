// The page of `visionpath studio`: the server pushes its whole state (the project's classes and pictures, the data
// check, the training, the runs) as server-sent events, and this draws it; every change goes through the JSON API.
// No library and nothing from the internet.
"use strict";

const WORDS = {
  en: {
    "project": "Project folder:",
    "classes.title": "Classes and their pictures",
    "classes.hint": "Make a class for each kind of thing to tell apart, then give each one pictures: drop files or folders on it, choose them, paste, or hold the camera button (a picture every half second). Every fifth picture of a class is kept aside to test the model on; it is never trained on.",
    "classes.placeholder": "a class name, e.g. cat",
    "classes.add": "Add class",
    "classes.remove": "Delete class",
    "classes.confirm": "Delete the class {name} and its {count} pictures?",
    "pictures.choose": "Choose pictures",
    "pictures.folder": "Choose a folder",
    "pictures.camera": "Hold for camera",
    "pictures.counts": "{count} pictures ({train} to train on · {test} to test)",
    "pictures.drop": "Drop pictures here",
    "pictures.remove": "Remove",
    "pictures.move": "Move to…",
    "upload.sending": "Adding {count} picture(s) to {name}…",
    "upload.done": "{added} added to {name}.",
    "upload.refused": "Refused: {file}: {error}",
    "camera.none": "No camera: {error}",
    "check.title": "Data check",
    "check.running": "checking…",
    "check.pictures": "{count} picture(s)",
    "check.counts": "{count} pictures read in {classes} classes: {train} to train on, {test} to test.",
    "train.title": "Train",
    "train.hint": "Trains EfficientNet-Lite0, pretrained on ImageNet, with visionpath's photo defaults: they choose the resolution, the epochs and how much to fine-tune within the budget. The training runs in its own process; Cancel keeps every finished epoch, and Train again resumes it.",
    "train.budget": "Budget",
    "train.minutes": "minutes",
    "train.start": "Train",
    "train.resume": "Train again (resume {run})",
    "train.cancel": "Cancel",
    "train.plan": "What the run decided, and its log",
    "train.running": "{run}: epoch {epoch} of {planned} · {elapsed} elapsed · at most {left} left of the {budget}-minute budget",
    "train.resumed": "{run}: epoch {epoch} of {planned} · {elapsed} since resuming",
    "train.starting": "starting: reading the pictures and planning the run…",
    "train.cancelling": "cancelling: saving the epoch in progress…",
    "train.finished": "{run} finished in {elapsed}.",
    "train.cancelled": "{run} cancelled after {epochs} epoch(s); they are kept: Train again resumes it.",
    "train.failed": "The training stopped with an error (exit status {code}); its log below says why.",
    "curves.loss": "loss",
    "curves.accuracy": "accuracy",
    "curves.train": "train",
    "curves.validation": "validation",
    "result.title": "The result",
    "result.run": "Run",
    "result.none": "No run yet: train one above.",
    "result.unfinished": "{run} has not finished: {epochs} epoch(s) so far.",
    "result.score": "{run}: {accuracy} right on {count} test pictures it never trained on.",
    "result.open": "Open the report in its own tab",
    "try.title": "Try it",
    "try.hint": "Drop photos here, choose them, or turn the camera on: the model answers several times a second.",
    "try.choose": "Choose photos",
    "try.camera": "Camera on",
    "try.cameraOff": "Camera off",
    "try.threshold": "Uncertain below",
    "try.uncertain": "uncertain",
    "try.noRun": "Train a run first.",
    "export.title": "Take it away",
    "export.onnx": "Download the model (ONNX)",
    "export.zip": "Download the run folder",
    "export.snippet": "The ONNX file runs anywhere onnxruntime does, without visionpath or PyTorch:",
    "command": "The same step as a command and in Python",
  },
  ja: {
    "project": "プロジェクトのフォルダ：",
    "classes.title": "クラスとその写真",
    "classes.hint": "見分けたいものごとにクラスを作り、それぞれに写真を入れます。ファイルやフォルダをドロップする、選ぶ、貼り付ける、カメラのボタンを押し続ける（0.5 秒に 1 枚）のいずれでも入れられます。各クラスの 5 枚に 1 枚はモデルのテスト用に取り分け、学習には使いません。",
    "classes.placeholder": "クラス名（例：ねこ）",
    "classes.add": "クラスを追加",
    "classes.remove": "クラスを削除",
    "classes.confirm": "クラス {name} と写真 {count} 枚を削除しますか？",
    "pictures.choose": "写真を選ぶ",
    "pictures.folder": "フォルダを選ぶ",
    "pictures.camera": "押し続けてカメラ",
    "pictures.counts": "{count} 枚（学習 {train} · テスト {test}）",
    "pictures.drop": "ここに写真をドロップ",
    "pictures.remove": "削除",
    "pictures.move": "移動先…",
    "upload.sending": "{name} に {count} 枚を追加中…",
    "upload.done": "{name} に {added} 枚を追加しました。",
    "upload.refused": "受け付けませんでした：{file}：{error}",
    "camera.none": "カメラを使えません：{error}",
    "check.title": "データのチェック",
    "check.running": "チェック中…",
    "check.pictures": "{count} 枚",
    "check.counts": "{classes} クラスの写真 {count} 枚を読みました（学習 {train} 枚・テスト {test} 枚）。",
    "train.title": "学習",
    "train.hint": "ImageNet で事前学習した EfficientNet-Lite0 を、visionpath の写真向けの既定値で学習します。解像度、エポック数、ファインチューニングの度合いを予算の時間内に収まるように決めます。学習は別のプロセスで動きます。キャンセルしても終わったエポックは残り、もう一度学習すると続きから再開します。",
    "train.budget": "予算",
    "train.minutes": "分",
    "train.start": "学習する",
    "train.resume": "もう一度学習（{run} を再開）",
    "train.cancel": "キャンセル",
    "train.plan": "実行が決めたことと、そのログ",
    "train.running": "{run}：エポック {epoch}/{planned} · 経過 {elapsed} · 予算 {budget} 分の残りは最大 {left}",
    "train.resumed": "{run}：エポック {epoch}/{planned} · 再開から {elapsed}",
    "train.starting": "開始中：写真を読み込み、計画を立てています…",
    "train.cancelling": "キャンセル中：実行中のエポックを保存しています…",
    "train.finished": "{run} は {elapsed} で終わりました。",
    "train.cancelled": "{run} は {epochs} エポックでキャンセルしました。エポックは残っています。もう一度学習すると再開します。",
    "train.failed": "学習がエラーで止まりました（終了ステータス {code}）。理由は下のログにあります。",
    "curves.loss": "損失",
    "curves.accuracy": "正解率",
    "curves.train": "学習",
    "curves.validation": "検証",
    "result.title": "結果",
    "result.run": "実行",
    "result.none": "まだ実行がありません。上で学習してください。",
    "result.unfinished": "{run} はまだ終わっていません（ここまで {epochs} エポック）。",
    "result.score": "{run}：学習に使っていないテスト写真 {count} 枚のうち {accuracy} が正解。",
    "result.open": "レポートを別のタブで開く",
    "try.title": "試す",
    "try.hint": "写真をここにドロップするか、選ぶか、カメラをオンにしてください。モデルが 1 秒に数回答えます。",
    "try.choose": "写真を選ぶ",
    "try.camera": "カメラをオン",
    "try.cameraOff": "カメラをオフ",
    "try.threshold": "確信度がこれ未満なら不確か：",
    "try.uncertain": "不確か",
    "try.noRun": "先に学習してください。",
    "export.title": "持ち出す",
    "export.onnx": "モデルをダウンロード（ONNX）",
    "export.zip": "実行フォルダをダウンロード",
    "export.snippet": "ONNX ファイルは visionpath も PyTorch もなしに、onnxruntime が動くところならどこでも動きます：",
    "command": "同じ手順をコマンドと Python で",
  },
};

const BURST_MS = 500;      // the camera's burst: a picture every half second while the button is held
const LIVE_MS = 250;       // the try-it camera asks the model at most this often
const BATCH_FILES = 32;    // pictures in one upload request
const BATCH_BYTES = 24e6;  // and bytes: under the server's 32 MB a request

let lang = "en";
let state = null;
let chosenRun = null;      // the run the result, try and export steps show: the newest unless one is picked
let lastClass = null;      // where a pasted picture goes
let stream = null;         // the camera, shared by the burst and the live answers
const drawn = new Map();   // class name -> the picture names its card shows

function t(key, values = {}) {
  const text = (WORDS[lang] && WORDS[lang][key]) || WORDS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? values[name] : `{${name}}`));
}

function translatePage() {
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-t]")) element.textContent = t(element.dataset.t);
  for (const element of document.querySelectorAll("[data-t-placeholder]")) {
    element.placeholder = t(element.dataset.tPlaceholder);
  }
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function percent(p) {
  const shown = (100 * p).toFixed(1);
  return (shown.endsWith(".0") ? shown.slice(0, -2) : shown) + "%";
}

function path(...parts) { return parts.map(encodeURIComponent).join("/"); }

async function api(method, url, body) {
  const options = { method };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  const response = await fetch(url, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok && !answer.added) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

// ---------------------------------------------------------------------------------------------- the state
function render(next) {
  const first = state === null;
  state = next;
  if (first && !next.lang_fixed) {
    const wanted = (navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en";
    if (wanted !== next.lang) api("POST", "/api/language", { lang: wanted }).catch(() => {});
  }
  if (next.lang !== lang || first) { lang = next.lang; translatePage(); drawn.clear(); }
  document.getElementById("project").textContent = next.project;
  renderClasses(next);
  renderCheck(next);
  renderTraining(next.training);
  renderRuns(next);
  for (const [step, lines] of Object.entries(next.commands)) {
    const target = document.getElementById(`command-${step === "export" ? "export" : step}`);
    if (target) target.textContent = lines.join("\n");
  }
}

// ------------------------------------------------------------------------------------ classes and pictures
function renderClasses(s) {
  const box = document.getElementById("classes");
  const names = s.classes.map((c) => c.name);
  for (const card of [...box.children]) {
    if (!names.includes(card.dataset.class)) { card.remove(); drawn.delete(card.dataset.class); }
  }
  s.classes.forEach((c, i) => {
    let card = [...box.children].find((e) => e.dataset.class === c.name);
    if (!card) {
      card = makeClassCard(c.name);
      box.insertBefore(card, box.children[i] || null);
    }
    card.querySelector(".counts").textContent = t("pictures.counts", { count: c.train + c.test, train: c.train,
                                                                       test: c.test });
    card.dataset.count = c.train + c.test;
    const key = c.pictures.join("/") + "|" + names.join("/");
    if (drawn.get(c.name) !== key) { drawThumbs(card, c, names); drawn.set(c.name, key); }
  });
}

function makeClassCard(name) {
  const card = document.getElementById("class-card").content.firstElementChild.cloneNode(true);
  card.dataset.class = name;
  card.querySelector("h3").textContent = name;
  for (const element of card.querySelectorAll("[data-t]")) element.textContent = t(element.dataset.t);
  for (const input of card.querySelectorAll("input[type=file]")) {
    input.addEventListener("change", () => { upload(name, [...input.files]); input.value = ""; });
  }
  card.querySelector(".remove-class").addEventListener("click", async () => {
    if (!confirm(t("classes.confirm", { name, count: card.dataset.count }))) return;
    await api("DELETE", `/api/classes/${path(name)}`).catch(showClassError);
  });
  const hold = card.querySelector(".hold");
  let timer = null;
  let held = false;
  const stop = () => { held = false; clearInterval(timer); timer = null; hold.classList.remove("on"); };
  hold.addEventListener("pointerdown", async (event) => {
    event.preventDefault();
    held = true;
    hold.setPointerCapture(event.pointerId);  // the release ends the burst even when the page moves under it
    if (!(await cameraOn())) { stop(); return; }
    snapInto(name);  // a tap is one picture, also when the camera took longer to start than the tap lasted
    if (!held || timer) return;
    hold.classList.add("on");
    timer = setInterval(() => snapInto(name), BURST_MS);
  });
  for (const type of ["pointerup", "pointerleave", "pointercancel"]) hold.addEventListener(type, stop);
  const zone = card.querySelector(".thumbs");
  zone.dataset.empty = t("pictures.drop");
  zone.addEventListener("focus", () => { lastClass = name; });
  card.addEventListener("click", () => { lastClass = name; });
  dropZone(zone, (files) => upload(name, files));
  return card;
}

function drawThumbs(card, c, names) {
  const zone = card.querySelector(".thumbs");
  zone.replaceChildren();
  for (const picture of c.pictures) {
    const figure = document.createElement("figure");
    figure.dataset.name = picture;
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = picture;
    img.src = `/api/classes/${path(c.name)}/pictures/${path(picture)}`;
    const remove = document.createElement("button");
    remove.className = "remove";
    remove.title = t("pictures.remove");
    remove.textContent = "×";
    remove.addEventListener("click", (e) => {
      e.stopPropagation();
      api("DELETE", `/api/classes/${path(c.name)}/pictures/${path(picture)}`).catch(showClassError);
    });
    const move = document.createElement("select");
    move.className = "move";
    move.append(new Option(t("pictures.move"), ""));
    for (const other of names) if (other !== c.name) move.append(new Option(other, other));
    move.addEventListener("change", () => {
      if (move.value) {
        api("POST", `/api/classes/${path(c.name)}/pictures/${path(picture)}/move`, { to: move.value })
          .catch(showClassError);
      }
    });
    figure.append(img, remove, move);
    zone.append(figure);
  }
}

function showClassError(error) { document.getElementById("class-error").textContent = error.message; }

async function upload(name, files) {
  const status = document.getElementById("upload-status");
  const pictures = files.filter((f) => f.type.startsWith("image/") || /\.(hei[cf]|avif|tiff?)$/i.test(f.name));
  let added = 0;
  const refused = [];
  status.textContent = t("upload.sending", { count: pictures.length, name });
  for (let start = 0; start < pictures.length;) {
    const form = new FormData();
    let bytes = 0;
    while (start < pictures.length && form.getAll("file").length < BATCH_FILES
           && (bytes === 0 || bytes + pictures[start].size < BATCH_BYTES)) {
      bytes += pictures[start].size;
      form.append("file", pictures[start], pictures[start].name);
      start++;
    }
    try {
      const answer = await api("POST", `/api/classes/${path(name)}/pictures`, form);
      added += answer.added.length;
      refused.push(...answer.refused);
    } catch (error) {
      refused.push({ file: `${form.getAll("file").length} file(s)`, error: error.message });
    }
  }
  status.replaceChildren(document.createTextNode(t("upload.done", { added, name })));
  for (const r of refused) {
    const line = document.createElement("div");
    line.className = "error";
    line.textContent = t("upload.refused", r);
    status.append(line);
  }
}

function dropZone(zone, take) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry());
    if (entries.some((entry) => entry && entry.isDirectory)) take(await filesOf(entries));
    else take([...e.dataTransfer.files]);
  });
}

async function filesOf(entries) {  // the files of dropped folders, all the way down
  const files = [];
  for (const entry of entries) {
    if (!entry) continue;
    if (entry.isFile) files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      do {
        batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        files.push(...(await filesOf(batch)));
      } while (batch.length);
    }
  }
  return files;
}

document.addEventListener("paste", (e) => {
  const files = [...(e.clipboardData ? e.clipboardData.files : [])];
  if (files.length && lastClass) upload(lastClass, files);
});

document.getElementById("new-class").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = document.getElementById("class-name");
  try {
    await api("POST", "/api/classes", { name: input.value });
    input.value = "";
    showClassError({ message: "" });
  } catch (error) { showClassError(error); }
});

// ------------------------------------------------------------------------------------------------ camera
async function cameraOn() {
  if (stream) return true;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) {
    document.getElementById("upload-status").textContent = t("camera.none", { error: error.message });
    return false;
  }
  for (const id of ["camera-view", "try-view"]) document.getElementById(id).srcObject = stream;
  document.getElementById("camera-box").hidden = false;
  const view = document.getElementById("camera-view");
  await new Promise((resolve) => {
    if (view.videoWidth) resolve(); else view.addEventListener("loadeddata", resolve, { once: true });
  });
  for (let n = 0; n < 3 && view.requestVideoFrameCallback; n++) {  // a camera's first frames can be black
    await new Promise((resolve) => view.requestVideoFrameCallback(resolve));
  }
  return true;
}

let frames = 0;
function frame() {  // the camera's picture now, as a JPEG file
  const view = document.getElementById("camera-view");
  const canvas = document.createElement("canvas");
  canvas.width = view.videoWidth;
  canvas.height = view.videoHeight;
  canvas.getContext("2d").drawImage(view, 0, 0);
  return new Promise((resolve) => canvas.toBlob((blob) => {
    frames += 1;
    resolve(new File([blob], `camera-${frames}.jpg`, { type: "image/jpeg" }));
  }, "image/jpeg", 0.92));
}

async function snapInto(name) { upload(name, [await frame()]); }

// -------------------------------------------------------------------------------------------- the check
function renderCheck(s) {
  const verdict = document.getElementById("check-verdict");
  verdict.textContent = (s.checking ? t("check.running") + " " : "") + (s.check.verdict || "");
  verdict.className = ["", "warning", "error"][s.check.status] || "";
  const counts = s.check.counts || {};
  const total = (split) => Object.values(counts[split] || {}).reduce((a, b) => a + b, 0);
  document.getElementById("check-counts").textContent = Object.keys(counts).length ? t("check.counts", {
    count: total("train") + total("test"), classes: Object.keys(counts.train || {}).length, train: total("train"),
    test: total("test") }) : "";
  const advice = document.getElementById("advice");
  advice.replaceChildren(...s.advice.map((line) => Object.assign(document.createElement("li"),
                                                                  { textContent: line, className: "warning" })));
  const findings = document.getElementById("findings");
  findings.replaceChildren(...s.check.findings.map((f) => {
    const item = document.createElement("li");
    item.className = f.level;
    item.dataset.kind = f.kind;
    item.textContent = f.what + (f.pictures ? ` (${t("check.pictures", { count: f.pictures })})` : "");
    return item;
  }));
}

// ----------------------------------------------------------------------------------------------- training
function renderTraining(training) {
  const button = document.getElementById("train");
  const cancel = document.getElementById("cancel");
  const busy = training.state === "running" || training.state === "cancelling";
  button.textContent = training.resumable ? t("train.resume", { run: training.resumable }) : t("train.start");
  button.disabled = busy;
  cancel.hidden = !busy;
  cancel.disabled = training.state === "cancelling";
  document.getElementById("progress-box").hidden = training.state === "idle";
  if (training.state === "idle") return;
  const rows = training.epochs;
  const last = rows[rows.length - 1];
  const budget = 60 * training.budget;
  const bar = document.getElementById("progress-bar");
  const text = document.getElementById("progress-text");
  const box = document.getElementById("progress-box");
  box.dataset.state = training.state;
  box.dataset.epochs = rows.length;
  let fraction = training.resumed && last ? Math.min(1, last.epoch / (last.planned_epochs || last.epoch))
    : Math.min(1, training.elapsed / budget);
  if (training.state === "running") {  // a resumed run's budget was partly spent before: its epochs tell
    text.textContent = !last ? t("train.starting") : t(training.resumed ? "train.resumed" : "train.running", {
      run: training.run, epoch: last.epoch, planned: last.planned_epochs || "?", elapsed: clock(training.elapsed),
      left: clock(budget - training.elapsed), budget: training.budget });
  } else if (training.state === "cancelling") {
    text.textContent = t("train.cancelling");
  } else if (training.state === "finished") {
    fraction = 1;
    text.textContent = t("train.finished", { run: training.run, elapsed: clock(training.elapsed) });
  } else if (training.state === "cancelled") {
    text.textContent = t("train.cancelled", { run: training.run, epochs: rows.length });
  } else {
    text.textContent = t("train.failed", { code: training.exit });
  }
  bar.style.width = `${(100 * fraction).toFixed(1)}%`;
  const log = document.getElementById("log");
  log.textContent = training.log.join("\n");
  if (followLog) log.scrollTop = log.scrollHeight;
  drawCurves(rows);
}

let followLog = true;  // the log shows its newest lines, unless the reader scrolled up to read
document.getElementById("log").addEventListener("scroll", (e) => {
  const log = e.target;
  followLog = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
});

document.getElementById("train").addEventListener("click", async () => {
  const error = document.getElementById("train-error");
  error.textContent = "";
  try {
    await api("POST", "/api/train", { budget: Number(document.getElementById("budget").value) });
    chosenRun = null;  // the result steps follow the new run
  } catch (e) { error.textContent = e.message; }
});

document.getElementById("cancel").addEventListener("click", () => {
  api("POST", "/api/cancel").catch((e) => { document.getElementById("train-error").textContent = e.message; });
});

function drawCurves(rows) {  // loss and accuracy by epoch, training and validation: two panels side by side
  const canvas = document.getElementById("curves");
  const g = canvas.getContext("2d");
  canvas.dataset.epochs = rows.length;
  canvas.dataset.stage = Math.max(0, ...rows.map((r) => r.stage || 1));
  g.clearRect(0, 0, canvas.width, canvas.height);
  const panels = [["curves.loss", "train_loss", "val_loss"], ["curves.accuracy", "train_accuracy", "val_accuracy"]];
  const width = canvas.width / 2;
  panels.forEach(([title, trainKey, valKey], i) => {
    const left = i * width + 48, right = (i + 1) * width - 16, top = 28, bottom = canvas.height - 28;
    const values = rows.flatMap((r) => [r[trainKey], r[valKey]]).filter((v) => Number.isFinite(v));
    const low = i === 1 ? Math.min(0, ...values) : 0;
    const high = i === 1 ? 1 : Math.max(1e-6, ...values);
    const x = (epoch) => left + (right - left) * (rows.length > 1 ? (epoch - 1) / (rows.length - 1) : 0.5);
    const y = (v) => bottom - (bottom - top) * (v - low) / (high - low || 1);
    g.strokeStyle = "#d9dde5"; g.fillStyle = "#5b6272"; g.font = "12px system-ui, sans-serif";
    g.strokeRect(left, top, right - left, bottom - top);
    g.fillText(t(title), left, top - 10);
    if (!rows.length) return;
    g.fillText(i === 1 ? "100%" : high.toPrecision(2), left - 44, top + 4);
    g.fillText(i === 1 ? percent(low) : "0", left - 44, bottom);
    if (rows.length) g.fillText(String(rows.length), right - 10, bottom + 16);
    const stage2 = rows.find((r) => r.stage === 2);
    if (stage2) {
      g.setLineDash([4, 4]); g.beginPath();
      g.moveTo(x(stage2.epoch) - 0.5, top); g.lineTo(x(stage2.epoch) - 0.5, bottom); g.stroke(); g.setLineDash([]);
    }
    [[trainKey, "#2f6fdb", "curves.train"], [valKey, "#b45309", "curves.validation"]].forEach(([key, colour, name], k) => {
      g.strokeStyle = colour; g.fillStyle = colour; g.lineWidth = 2; g.beginPath();
      rows.forEach((r, n) => { if (Number.isFinite(r[key])) (n ? g.lineTo : g.moveTo).call(g, x(r.epoch), y(r[key])); });
      g.stroke(); g.lineWidth = 1;
      g.fillText(t(name), left + 8 + 80 * k, bottom + 16);
    });
  });
}

// ------------------------------------------------------------------------------- the result, try, export
function renderRuns(s) {
  const select = document.getElementById("run");
  const names = s.runs.map((r) => r.name);
  if (select.options.length !== names.length || [...select.options].some((o, i) => o.value !== names[i])) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  const shown = chosenRun && names.includes(chosenRun) ? chosenRun : names[names.length - 1];
  if (shown) select.value = shown;
  const run = s.runs.find((r) => r.name === shown);
  const score = document.getElementById("run-score");
  const report = document.getElementById("report");
  const link = document.getElementById("report-link");
  for (const id of ["onnx", "zip"]) document.getElementById(id).toggleAttribute("hidden", !(run && run.finished));
  if (!run) {
    score.textContent = t("result.none");
    report.hidden = link.hidden = true;
    document.getElementById("summary").textContent = "";
    return;
  }
  document.getElementById("summary").textContent = run.summary;
  if (!run.finished) {
    score.textContent = t("result.unfinished", { run: run.name, epochs: run.epochs });
    report.hidden = link.hidden = true;
    return;
  }
  score.textContent = run.test_accuracy === null ? "" : t("result.score", {
    run: run.name, accuracy: percent(run.test_accuracy), count: run.test_pictures ?? "?" });
  const url = `/api/runs/${path(run.name)}/report.html`;
  if (report.dataset.run !== run.name || report.dataset.summary !== String(run.summary.length)) {
    report.src = url;
    report.dataset.run = run.name;
    report.dataset.summary = String(run.summary.length);
  }
  report.hidden = link.hidden = false;
  link.href = url;
  document.getElementById("onnx").href = `/api/runs/${path(run.name)}/model.onnx`;
  document.getElementById("onnx").setAttribute("download", `${run.name}.onnx`);
  document.getElementById("zip").href = `/api/runs/${path(run.name)}/run.zip`;
  document.getElementById("snippet").textContent = snippet(run.name);
}

document.getElementById("run").addEventListener("change", (e) => { chosenRun = e.target.value; render(state); });

function snippet(name) {
  return `import json
import numpy as np
import onnxruntime
from PIL import Image, ImageOps

session = onnxruntime.InferenceSession("${name}.onnx")
facts = {key: json.loads(value) for key, value in session.get_modelmeta().custom_metadata_map.items()}
channels, height, width = facts["input_shape"]
picture = ImageOps.exif_transpose(Image.open("photo.jpg")).convert("RGB" if channels == 3 else "L")
picture = ImageOps.fit(picture, (width, height), method=Image.Resampling.BILINEAR)
pixels = np.asarray(picture, dtype=np.uint8).reshape(height, width, channels).transpose(2, 0, 1)[None]
probabilities = session.run(None, {"pictures": pixels})[0][0]
print(facts["classes"][probabilities.argmax()], f"{probabilities.max():.1%}")`;
}

function currentRun() {
  const finished = state ? state.runs.filter((r) => r.finished) : [];
  const picked = finished.find((r) => r.name === document.getElementById("run").value);
  return picked || finished[finished.length - 1];
}

function threshold() { return Number(document.getElementById("threshold").value); }

async function classify(files, live) {
  const run = currentRun();
  const answers = document.getElementById("answers");
  if (!run) { answers.textContent = t("try.noRun"); return; }
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  try {
    const answer = await api("POST", `/api/runs/${path(run.name)}/predict?min_confidence=${threshold()}`, form);
    const cards = answer.predictions.map((p, i) => card(p, files[i]));
    if (live) {
      const old = answers.querySelector(".result.live");
      cards[0].classList.add("live");
      if (old) old.replaceWith(cards[0]); else answers.prepend(cards[0]);
    } else answers.prepend(...cards);
  } catch (error) {
    const line = document.createElement("p");
    line.className = "error";
    line.textContent = error.message;
    answers.prepend(line);
  }
}

function card(prediction, file) {
  const article = document.createElement("article");
  article.className = "result";
  article.dataset.file = prediction.file;
  article.dataset.label = prediction.label;
  article.dataset.state = prediction.uncertain ? "uncertain" : "sure";
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file);
  const body = document.createElement("div");
  const title = document.createElement("h3");
  title.textContent = prediction.uncertain ? `${prediction.label}? (${t("try.uncertain")})` : prediction.label;
  const bars = document.createElement("ol");
  bars.className = "bars";
  for (const row of prediction.top) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = row.class;
    const meter = document.createElement("span");
    meter.className = "meter";
    meter.style.setProperty("--p", row.probability);
    const value = document.createElement("span");
    value.textContent = percent(row.probability);
    item.append(label, meter, value);
    bars.append(item);
  }
  body.append(title, bars);
  article.append(img, body);
  return article;
}

document.getElementById("try-files").addEventListener("change", (e) => {
  classify([...e.target.files], false);
  e.target.value = "";
});
dropZone(document.getElementById("try-drop"), (files) => classify(files, false));
document.getElementById("threshold").addEventListener("input", (e) => {
  document.getElementById("threshold-value").textContent = percent(Number(e.target.value));
});

let live = false;
document.getElementById("try-camera").addEventListener("click", async (e) => {
  live = !live;
  e.target.textContent = live ? t("try.cameraOff") : t("try.camera");
  if (!live) { document.getElementById("try-view").hidden = true; return; }
  if (!(await cameraOn())) { live = false; e.target.textContent = t("try.camera"); return; }
  document.getElementById("try-view").hidden = false;
  while (live) {
    const started = performance.now();
    await classify([await frame()], true);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, LIVE_MS - (performance.now() - started))));
  }
});

// --------------------------------------------------------------------------------------------- the start
const events = new EventSource("/api/events");
events.addEventListener("state", (e) => render(JSON.parse(e.data)));
