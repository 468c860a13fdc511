/// The page at `/`: pick a model, drop an image (or choose one), see its top classes as bars. Plain
/// HTML and a few lines of script against the server's own API; nothing loaded from elsewhere.
enum WebPage {
  static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>resnet-serve</title>
    <style>
      body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
      h1 { font-size: 1.3rem; }
      #drop { border: 2px dashed #999; border-radius: 8px; padding: 2rem; text-align: center; cursor: pointer; }
      #drop.over { border-color: #2a6ebb; background: #eef4fb; }
      #preview { max-width: 8rem; max-height: 8rem; margin-top: 1rem; image-rendering: pixelated; }
      #preview[src] { width: 6rem; }
      .row { display: grid; grid-template-columns: 10rem 1fr 4rem; gap: .5rem; align-items: center; margin: .3rem 0; }
      .bar { background: #2a6ebb; height: 1rem; border-radius: 3px; }
      .pct { text-align: right; font-variant-numeric: tabular-nums; }
      #error { color: #b00020; }
    </style>
    </head>
    <body>
    <h1>resnet-serve</h1>
    <p><label>Model <select id="model"></select></label> <span id="info"></span></p>
    <div id="drop">Drop a PNG or JPEG here, or click to choose one
      <input id="file" type="file" accept="image/png,image/jpeg" hidden><br><img id="preview" alt=""></div>
    <div id="result" aria-live="polite"></div>
    <p id="error" role="alert"></p>
    <script>
    const $ = (id) => document.getElementById(id);
    let models = [];
    fetch("/v1/models").then((r) => r.json()).then((body) => {
      models = body.models;
      for (const m of models) $("model").add(new Option(m.name, m.name));
      showInfo();
    });
    function showInfo() {
      const m = models.find((m) => m.name === $("model").value);
      if (m) $("info").textContent = `${m.classes.length} classes, input ${m.input.channels}×${m.input.height}×${m.input.width}`;
    }
    $("model").onchange = showInfo;
    async function classify(file) {
      $("error").textContent = "";
      $("result").textContent = "classifying…";
      $("preview").src = URL.createObjectURL(file);
      const response = await fetch(`/v1/models/${encodeURIComponent($("model").value)}/classify?top=5`, { method: "POST", body: file });
      const answer = await response.json();
      $("result").textContent = "";
      if (!response.ok || answer.error) { $("error").textContent = answer.error; return; }
      for (const p of answer.top) {
        const row = document.createElement("div");
        row.className = "row";
        row.innerHTML = `<span class="label"></span><div><div class="bar"></div></div><span class="pct"></span>`;
        row.querySelector(".label").textContent = p.class;
        row.querySelector(".bar").style.width = `${(100 * p.probability).toFixed(1)}%`;
        row.querySelector(".pct").textContent = `${(100 * p.probability).toFixed(1)}%`;
        $("result").appendChild(row);
      }
    }
    $("drop").onclick = () => $("file").click();
    $("file").onchange = () => { if ($("file").files[0]) classify($("file").files[0]); };
    $("drop").ondragover = (e) => { e.preventDefault(); $("drop").classList.add("over"); };
    $("drop").ondragleave = () => $("drop").classList.remove("over");
    $("drop").ondrop = (e) => {
      e.preventDefault();
      $("drop").classList.remove("over");
      if (e.dataTransfer.files[0]) classify(e.dataTransfer.files[0]);
    };
    </script>
    </body>
    </html>
    """
}
