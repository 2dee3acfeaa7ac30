// The model card: the model file's own record, as /api/card gives it.
// figures to 4 significant digits: a card is read, not recomputed (/api/card has them whole)
function shown(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(+value.toPrecision(4));
  if (Array.isArray(value)) return value.map(shown).join(", ");
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

function table(title, rows) {
  const section = document.createElement("section");
  const h = document.createElement("h2");
  h.textContent = title;
  section.append(h);
  const t = document.createElement("table");
  for (const [key, value] of Object.entries(rows)) {
    const tr = t.insertRow();
    tr.insertCell().textContent = key;
    tr.insertCell().textContent = shown(value);
  }
  section.append(t);
  return section;
}

fetch("/api/card").then((r) => r.json()).then((card) => {
  const main = document.getElementById("card");
  main.append(table("Training run (top-1 and H in %, AUSUC a fraction)", {model: card.model, ...card.figures,
    "iterations trained": card.iterations_trained, "GZSL calibration": card.gzsl_calibration,
    "temperature (probabilities)": card.temperature, "GZSL temperature": card.gzsl_temperature}));
  main.append(table("Text encoder", card.text_encoder));
  main.append(table("Image backbone", card.image_backbone));
  main.append(table(`Training classes (${card.training_classes.length})`, {classes: card.training_classes.join(", ")}));
});
