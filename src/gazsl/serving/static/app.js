// The page: each dropped photo is sent alone to /api/predict, so one bad file is one message beside it.
const results = document.getElementById("results");
const gzslBox = document.getElementById("gzsl");
const topK = document.getElementById("top-k");

async function answer(response) {
  const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showClasses(info) {
  document.getElementById("n-classes").textContent = info.classes.length;
  document.getElementById("class-names").textContent = info.classes.join(", ").replaceAll("_", " ");
  gzslBox.disabled = !info.gzsl_available;
  document.getElementById("gzsl-note").textContent = info.gzsl_available
    ? `${info.training_classes} training classes` : "this model has no GZSL calibration";
}

function bars(result) {
  // with probabilities, a bar is the class's probability among the ranked classes (0 to 100 %); without (a model
  // file holding no temperature), the raw scores from the lowest of all candidates to the best, as a ranking only
  const probable = result.note === null;
  const top = result.classes[0].score;
  const span = top - result.floor || 1;
  const list = document.createElement("ol");
  list.className = "ranking";
  for (const {class: name, score, probability, shown} of result.classes) {
    const item = document.createElement("li");
    item.dataset.class = name;
    item.dataset.score = score;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = name.replaceAll("_", " ");
    const bar = document.createElement("span");
    bar.className = "bar";
    const value = document.createElement("span");
    value.className = "value";
    if (probable) {
      item.dataset.probability = probability;
      bar.style.width = `${Math.max(0.5, 100 * probability)}%`;
      value.textContent = shown;
      value.title = `score ${score.toFixed(4)}`;
    } else {
      bar.style.width = `${Math.max(2, 100 * (score - result.floor) / span)}%`;
      value.textContent = score.toFixed(3);
    }
    const track = document.createElement("span");
    track.className = "track";
    track.append(bar);
    item.append(label, track, value);
    list.append(item);
  }
  return list;
}

function verdict(result) {
  // one line above the bars: how sure, or why the numbers are raw scores
  const line = document.createElement("p");
  if (!result.note) {
    const [first, second] = result.classes;
    line.className = result.too_close ? "verdict close" : "verdict";
    line.textContent = result.too_close
      ? `Too close to call between ${first.class.replaceAll("_", " ")} (${first.shown}) and ${second.class.replaceAll("_", " ")} (${second.shown}).`
      : `Probabilities among all ${result.n_candidates} classes ranked.`;
  } else {
    line.className = "verdict note";
    line.textContent = result.note;
  }
  return line;
}

async function rankPhoto(file) {
  const card = document.createElement("article");
  card.className = "photo pending";
  card.dataset.photo = file.name;
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  const side = document.createElement("div");
  const title = document.createElement("h3");
  title.textContent = file.name;
  side.append(title);
  card.append(img, side);
  results.prepend(card);
  const form = new FormData();
  form.append("photo", file);
  form.append("gzsl", gzslBox.checked);
  form.append("top_k", topK.value);
  try {
    const result = await answer(await fetch("/api/predict", {method: "POST", body: form}));
    side.append(verdict(result), bars(result));
    card.className = "photo done";
  } catch (err) {
    const message = document.createElement("p");
    message.className = "error";
    message.textContent = err.message;
    side.append(message);
    card.className = "photo failed";
  }
}

function rankAll(files) {
  for (const file of files) rankPhoto(file);
}

const drop = document.getElementById("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); rankAll(e.dataTransfer.files); });
document.getElementById("photos").addEventListener("change", (e) => { rankAll(e.target.files); e.target.value = ""; });

document.getElementById("add-class").addEventListener("submit", async (e) => {
  e.preventDefault();
  const message = document.getElementById("add-message");
  message.className = "";
  message.textContent = "adding ...";
  try {
    showClasses(await answer(await fetch("/api/classes", {method: "POST", body: new FormData(e.target)})));
    message.textContent = "added";
    e.target.reset();
  } catch (err) {
    message.className = "error";
    message.textContent = err.message;
  }
});

fetch("/api/classes").then(answer).then((info) => { topK.value = info.top_k; showClasses(info); });
