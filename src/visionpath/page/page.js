// The page of `visionpath serve`: photos in, each sent to POST /predict on its own (the server batches requests
// from every open page together), its top classes drawn as bars. No library and nothing from the internet.
"use strict";

const PARALLEL = 4;  // requests in flight at once: enough to keep the server's batches full, few enough to be fair
const results = document.getElementById("results");
const template = document.getElementById("card");
let model = null;
let queue = [];
let inFlight = 0;

function percent(p) {  // 57.5%, 100%, 0%, 60%
  const shown = (100 * p).toFixed(1);
  return (shown.endsWith(".0") ? shown.slice(0, -2) : shown) + "%";
}

async function describeModel() {
  const about = document.getElementById("about");
  try {
    const response = await fetch("/model");
    model = await response.json();
  } catch (error) {
    about.textContent = "The server does not answer; is `visionpath serve` still running?";
    return;
  }
  const [channels, height, width] = model.input_shape;
  const classes = model.classes.length > 12
    ? model.classes.slice(0, 12).join(", ") + `, … (${model.classes.length} classes)`
    : model.classes.join(", ");
  about.innerHTML = "";
  about.append(
    text("Serving "), strong(model.model), text(` from ${model.source} · ${model.classes.length} classes: `),
    strong(classes), text(` · pictures resized to ${width}×${height} ${channels === 1 ? "grey" : "RGB"} · `
      + `uncertain below ${percent(model.min_confidence)} · visionpath ${model.visionpath_version}`));
  document.title = `visionpath · ${model.model} · ${model.classes.length} classes`;
}

function text(s) { return document.createTextNode(s); }
function strong(s) { const b = document.createElement("strong"); b.textContent = s; return b; }

function addPhotos(files) {  // the newest photos on top, in the order they were chosen
  const cards = document.createDocumentFragment();
  for (const file of files) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.querySelector(".file").textContent = file.name;
    card.dataset.file = file.name;
    if (file.type.startsWith("image/")) card.querySelector("img").src = URL.createObjectURL(file);
    cards.append(card);
    queue.push([file, card]);
  }
  results.prepend(cards);
  sendNext();
}

function sendNext() {
  while (inFlight < PARALLEL && queue.length) {
    const [file, card] = queue.shift();
    inFlight++;
    classify(file, card).finally(() => { inFlight--; sendNext(); });
  }
}

async function classify(file, card) {
  const form = new FormData();
  form.append("file", file, file.name);
  const status = card.querySelector(".status");
  try {
    const response = await fetch("/predict", { method: "POST", body: form });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    show(card, answer.predictions[0]);
  } catch (error) {
    card.classList.add("failed");
    card.dataset.state = "failed";
    status.textContent = error.message.startsWith("NetworkError") || error.message === "Failed to fetch"
      ? "The server does not answer; is `visionpath serve` still running?" : error.message;
  }
}

function show(card, prediction) {
  const status = card.querySelector(".status");
  const bars = card.querySelector(".bars");
  card.dataset.label = prediction.label;
  card.dataset.state = prediction.uncertain ? "uncertain" : "sure";
  if (prediction.uncertain) {
    card.classList.add("uncertain");
    status.textContent = `Uncertain: the best guess, ${prediction.label}, has only ${percent(prediction.probability)}`
      + " (a person should look).";
  } else {
    status.textContent = `${prediction.label} (${percent(prediction.probability)})`;
  }
  for (const { class: name, probability } of prediction.top) {
    const row = document.createElement("li");
    const label = document.createElement("span");
    const bar = document.createElement("span");
    const fill = document.createElement("span");
    const value = document.createElement("span");
    label.className = "class"; label.textContent = name;
    bar.className = "bar"; fill.className = "fill"; fill.style.width = `${100 * probability}%`;
    value.className = "value"; value.textContent = percent(probability);
    bar.append(fill);
    row.append(label, bar, value);
    bars.append(row);
  }
}

// choosing, dropping and pasting photos
for (const id of ["files", "capture"]) {
  document.getElementById(id).addEventListener("change", (event) => {
    addPhotos(event.target.files);
    event.target.value = "";
  });
}
const drop = document.getElementById("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  addPhotos(event.dataTransfer.files);
});
document.addEventListener("paste", (event) => addPhotos(event.clipboardData.files));

// the camera, where the browser allows it (a secure page: localhost, or https)
const cameraButton = document.getElementById("camera-button");
const camera = document.getElementById("camera");
const view = document.getElementById("camera-view");
let stream = null;
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) cameraButton.hidden = false;
cameraButton.addEventListener("click", async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch (error) {
    cameraButton.textContent = "No camera allowed";
    cameraButton.disabled = true;
    return;
  }
  view.srcObject = stream;
  camera.hidden = false;
});
document.getElementById("camera-off").addEventListener("click", () => {
  stream.getTracks().forEach((track) => track.stop());
  camera.hidden = true;
});
let frames = 0;
document.getElementById("snap").addEventListener("click", () => {
  const canvas = document.createElement("canvas");
  canvas.width = view.videoWidth;
  canvas.height = view.videoHeight;
  canvas.getContext("2d").drawImage(view, 0, 0);
  canvas.toBlob((blob) => addPhotos([new File([blob], `camera-${++frames}.jpg`, { type: "image/jpeg" })]),
    "image/jpeg", 0.92);
});

document.querySelectorAll(".origin").forEach((span) => { span.textContent = location.origin; });
describeModel();
