// The model card: the model file's own record, as /api/card gives it.
function table(title, rows) {
  const section = document.createElement("section");
  const h = document.createElement("h2");
  h.textContent = title;
  section.append(h);
  const t = document.createElement("table");
  for (const [key, value] of Object.entries(rows)) {
    const tr = t.insertRow();
    tr.insertCell().textContent = key;
    tr.insertCell().textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  section.append(t);
  return section;
}

fetch("/api/card").then((r) => r.json()).then((card) => {
  const main = document.getElementById("card");
  main.append(table("Training run (figures in %)", {model: card.model, ...card.figures,
    "iterations trained": card.iterations_trained, "GZSL calibration": card.gzsl_calibration}));
  main.append(table("Text encoder", card.text_encoder));
  main.append(table("Image backbone", card.image_backbone));
  main.append(table(`Training classes (${card.training_classes.length})`, {classes: card.training_classes.join(", ")}));
});
