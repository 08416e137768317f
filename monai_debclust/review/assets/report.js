"use strict";
// The interactive clustering report: map, image panel, galleries, filters and the review (see page.py).
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const N = D.ids.length, K = D.num_clusters, BITS = D.flag_bits, PAGE = 48;
  const $ = (id) => document.getElementById(id);
  const review = { names: {}, merge: {}, moved: {}, excluded: new Set() };
  const rowOf = new Map(D.ids.map((id, i) => [id, i]));
  const colour = (k) => `hsl(${(k * 137.508) % 360}, 65%, ${k % 2 ? 38 : 52}%)`;
  let selected = -1, page = 0, visible = [], lastReview = null;

  // ---- the review's effect: the cluster an image ends in, the name a cluster carries
  function finalCluster(k) {
    const seen = new Set([k]);
    while (review.merge[k] !== undefined) { k = review.merge[k]; if (seen.has(k)) return k; seen.add(k); }
    return k;
  }
  function clusterOf(i) {
    const moved = review.moved[D.ids[i]];
    return finalCluster(moved !== undefined ? moved : D.cluster[i]);
  }
  const clusterName = (k) => review.names[k] || `cluster ${k}`;
  function say(text) { $("review-status").textContent = text; }

  // ---- filters
  function option(select, value, text) {
    const o = document.createElement("option"); o.value = value; o.textContent = text; select.appendChild(o);
  }
  function fillFilters() {
    const fc = $("filter-cluster"), keep = fc.value;
    fc.textContent = ""; option(fc, "", "all");
    for (let k = 0; k < K; k++) if (finalCluster(k) === k) option(fc, String(k), `${k}: ${clusterName(k)}`);
    fc.value = [...fc.options].some((o) => o.value === keep) ? keep : "";
    const fl = $("filter-label");
    if (!fl.options.length) {
      option(fl, "", "all"); option(fl, "-1", "unlabelled");
      D.label_names.forEach((name, k) => option(fl, String(k), name));
      const ff = $("filter-flag");
      option(ff, "", "any");
      for (const name of Object.keys(BITS)) if (name !== "thumbnail") option(ff, name, name.replace("_", " "));
      option(ff, "excluded", "excluded"); option(ff, "moved", "moved");
    }
  }
  function passes(i) {
    const c = $("filter-cluster").value, l = $("filter-label").value, f = $("filter-flag").value;
    if (c !== "" && clusterOf(i) !== Number(c)) return false;
    if (l !== "" && D.label[i] !== Number(l)) return false;
    if (f === "excluded") return review.excluded.has(D.ids[i]);
    if (f === "moved") return review.moved[D.ids[i]] !== undefined;
    return f === "" || (D.flags[i] & BITS[f]) !== 0;
  }
  function applyFilters() {
    visible = [];
    for (let i = 0; i < N; i++) if (passes(i)) visible.push(i);
    visible.sort((a, b) => clusterOf(a) - clusterOf(b) || D.confidence[b] - D.confidence[a] || a - b);
    $("filter-count").textContent = `${visible.length} of ${N} images`;
    page = 0; drawMap(); drawGallery();
  }

  // ---- thumbnails: the src is set only when an image is shown
  function thumbnail(img, i) {
    if (D.flags[i] & BITS.thumbnail) { img.src = `${D.thumbnails}/${i}.jpg`; img.alt = D.ids[i]; }
    else { img.removeAttribute("src"); img.alt = `${D.ids[i]} (no thumbnail)`; }
  }
  function badges(i) {
    const out = [[`${(D.confidence[i] / 10).toFixed(0)}%`, ""]];
    if (D.flags[i] & BITS.outlier) out.push(["outlier", "outlier"]);
    for (const q of ["dark", "light", "blurry", "low_information"]) if (D.flags[i] & BITS[q]) out.push([q.replace("_", " "), "quality"]);
    if (D.flags[i] & BITS.duplicate) out.push([`dup ${D.duplicate_group[i]}`, "duplicate"]);
    if (D.flags[i] & BITS.label_conflict) out.push(["label conflict", "duplicate"]);
    if (review.moved[D.ids[i]] !== undefined) out.push(["moved", "moved"]);
    if (review.excluded.has(D.ids[i])) out.push(["excluded", "excluded"]);
    const box = document.createElement("div"); box.className = "badges";
    for (const [text, kind] of out) {
      const b = document.createElement("span"); b.className = `badge ${kind}`; b.textContent = text; box.appendChild(b);
    }
    return box;
  }
  function tile(i, withBadges) {
    const fig = document.createElement("figure"), img = document.createElement("img"), cap = document.createElement("figcaption");
    img.decoding = "async"; thumbnail(img, i);
    cap.textContent = D.ids[i]; cap.title = D.ids[i];
    fig.append(img, cap); if (withBadges) fig.appendChild(badges(i));
    fig.dataset.row = i; fig.addEventListener("click", () => select(i));
    return fig;
  }

  // ---- gallery
  function drawGallery() {
    const pages = Math.max(1, Math.ceil(visible.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const box = $("gallery"); box.textContent = "";
    for (const i of visible.slice(page * PAGE, (page + 1) * PAGE)) box.appendChild(tile(i, true));
    $("page-info").textContent = `page ${page + 1} of ${pages}`;
  }

  // ---- duplicate groups (duplicates.csv): conflicting labels first, GROUPS to a page, GROUP_TILES shown each
  const DUP = D.duplicates, GROUPS = 10, GROUP_TILES = 12, groups = [];  // groups: [start, end) in DUP.rows
  if (DUP) DUP.rows.forEach((i, m) => {
    if (m && D.duplicate_group[i] === D.duplicate_group[DUP.rows[m - 1]]) groups[groups.length - 1][1] = m + 1;
    else groups.push([m, m + 1]);
  });
  let groupPage = 0;
  function drawDuplicates() {
    const pages = Math.max(1, Math.ceil(groups.length / GROUPS));
    groupPage = Math.min(Math.max(groupPage, 0), pages - 1);
    const box = $("duplicates"); box.textContent = "";
    for (const [start, end] of groups.slice(groupPage * GROUPS, (groupPage + 1) * GROUPS)) {
      const first = DUP.rows[start], conflict = (D.flags[first] & BITS.label_conflict) !== 0;
      const row = document.createElement("div"), head = document.createElement("p");
      const strip = document.createElement("div"), group = D.duplicate_group[first];
      row.className = conflict ? "group conflict" : "group"; row.dataset.group = group;
      head.textContent = `group ${group} · ${end - start} images` + (conflict ? " · labels conflict" : "")
        + (end - start > GROUP_TILES ? ` · the first ${GROUP_TILES} shown (all in duplicates.csv)` : "");
      strip.className = "strip";
      for (let m = start; m < Math.min(end, start + GROUP_TILES); m++) {
        const i = DUP.rows[m], fig = tile(i, false), facts = document.createElement("figcaption");
        facts.className = "member";
        const label = D.label[i] >= 0 ? D.label_names[D.label[i]] : "no label";
        facts.textContent = `${DUP.kinds[DUP.kind[m]]} · ${DUP.similarity[m].toFixed(4)} · ${label}`;
        fig.appendChild(facts); strip.appendChild(fig);
      }
      row.append(head, strip); box.appendChild(row);
    }
    $("groups-info").textContent = `page ${groupPage + 1} of ${pages}`;
  }
  function showDuplicates() {
    const conflicts = groups.filter(([start]) => D.flags[DUP.rows[start]] & BITS.label_conflict).length;
    $("duplicates-note").textContent = groups.length ? `${groups.length} groups of exact copies or near-duplicates ` +
      `(${DUP.rows.length} images), ${conflicts} of them with conflicting labels, listed first. Kind and similarity ` +
      "are each image's to its group's first member." : "No duplicates at the run's threshold.";
    $("duplicates-section").hidden = false;
    drawDuplicates();
  }

  // ---- map: one canvas, a grid of cells to find the point under the pointer
  const canvas = $("map"), ctx = canvas.getContext("2d"), PAD = 8, CELLS = 64, SCALE = 10000;
  const px = (i) => PAD + D.x[i] / SCALE * (canvas.width - 2 * PAD);
  const py = (i) => PAD + (1 - D.y[i] / SCALE) * (canvas.height - 2 * PAD);
  const grid = Array.from({ length: CELLS * CELLS }, () => []);
  for (let i = 0; i < N; i++) {
    grid[Math.min(CELLS - 1, Math.floor(D.x[i] / SCALE * CELLS)) * CELLS + Math.min(CELLS - 1, Math.floor(D.y[i] / SCALE * CELLS))].push(i);
  }
  const shown = new Uint8Array(N);
  function drawMap() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    shown.fill(0);
    const size = N > 20000 ? 2 : N > 2000 ? 3 : 5;
    for (const i of visible) {
      shown[i] = 1; ctx.fillStyle = colour(clusterOf(i));
      ctx.fillRect(px(i) - size / 2, py(i) - size / 2, size, size);
    }
    if (selected >= 0) {
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(px(selected), py(selected), 7, 0, 2 * Math.PI); ctx.stroke();
    }
  }
  function pointAt(event) {
    const box = canvas.getBoundingClientRect();
    const cx = (event.clientX - box.left) * canvas.width / box.width, cy = (event.clientY - box.top) * canvas.height / box.height;
    const gx = (cx - PAD) / (canvas.width - 2 * PAD) * CELLS, gy = (1 - (cy - PAD) / (canvas.height - 2 * PAD)) * CELLS;
    let best = -1, bestDistance = 64; // within 8 canvas pixels
    for (let a = Math.floor(gx) - 1; a <= Math.floor(gx) + 1; a++) for (let b = Math.floor(gy) - 1; b <= Math.floor(gy) + 1; b++) {
      if (a < 0 || b < 0 || a >= CELLS || b >= CELLS) continue;
      for (const i of grid[a * CELLS + b]) {
        const d = (px(i) - cx) ** 2 + (py(i) - cy) ** 2;
        if (shown[i] && d < bestDistance) { best = i; bestDistance = d; }
      }
    }
    return best;
  }
  canvas.addEventListener("mousemove", (event) => {
    const i = pointAt(event), tip = $("tooltip");
    if (i < 0) { tip.hidden = true; return; }
    thumbnail(tip.querySelector("img"), i);
    tip.querySelector("span").textContent = `${D.ids[i]} · ${clusterName(clusterOf(i))}`;
    tip.style.left = `${event.offsetX + 14}px`; tip.style.top = `${event.offsetY + 14}px`; tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  canvas.addEventListener("click", (event) => { const i = pointAt(event); if (i >= 0) select(i); });

  // ---- the image panel
  function select(i) {
    selected = i;
    const panel = $("panel"); panel.hidden = false;
    thumbnail($("panel-image"), i);
    $("panel-id").textContent = D.ids[i];
    const k = clusterOf(i), facts = [review.names[k] ? `cluster ${k} (${review.names[k]})` : `cluster ${k}`, `confidence ${(D.confidence[i] / 1000).toFixed(3)}`];
    if (D.label[i] >= 0) facts.push(`label ${D.label_names[D.label[i]]}`);
    for (const [name, values] of Object.entries(D.dicom)) if (values[i]) facts.push(`${name} ${values[i]}`);
    $("panel-facts").textContent = facts.join(" · ");
    $("panel-facts").appendChild(badges(i));
    const move = $("panel-move"); move.textContent = "";
    for (let c = 0; c < K; c++) option(move, String(c), `${c}: ${clusterName(c)}`);
    move.value = String(review.moved[D.ids[i]] !== undefined ? review.moved[D.ids[i]] : D.cluster[i]);
    $("panel-exclude").checked = review.excluded.has(D.ids[i]);
    const strip = $("panel-neighbours"); strip.textContent = "";
    for (let r = 0; r < D.neighbours_k; r++) {
      const j = D.neighbours[i * D.neighbours_k + r];
      if (j >= 0) strip.appendChild(tile(j, false));
    }
    drawMap();
  }
  $("panel-move").addEventListener("change", (event) => {
    if (selected < 0) return;
    const id = D.ids[selected], to = Number(event.target.value);
    if (to === D.cluster[selected]) delete review.moved[id]; else review.moved[id] = to;
    say(`${id} moved to cluster ${to}`); refresh();
  });
  $("panel-exclude").addEventListener("change", (event) => {
    if (selected < 0) return;
    const id = D.ids[selected];
    if (event.target.checked) review.excluded.add(id); else review.excluded.delete(id);
    say(`${id} ${event.target.checked ? "excluded" : "included again"}`); refresh();
  });

  // ---- the cluster table: names and merges
  function drawClusters() {
    const counts = new Array(K).fill(0);
    for (let i = 0; i < N; i++) counts[D.cluster[i]]++;
    const body = document.querySelector("#cluster-table tbody"); body.textContent = "";
    for (let k = 0; k < K; k++) {
      const tr = document.createElement("tr"); tr.dataset.cluster = k;
      const sw = `<span class="swatch" style="background:${colour(k)}"></span> ${k}`;
      tr.innerHTML = `<td>${sw}</td><td class="num">${counts[k]}</td><td><input class="cluster-name" type="text" size="18"></td><td><select class="cluster-merge"></select></td>`;
      const name = tr.querySelector("input"); name.value = review.names[k] || ""; name.placeholder = `cluster ${k}`;
      name.addEventListener("change", () => {
        const text = name.value.trim();
        if (text) review.names[k] = text; else delete review.names[k];
        say(`cluster ${k} named ${clusterName(k)}`); refresh();
      });
      const merge = tr.querySelector("select"); option(merge, "", "—");
      for (let c = 0; c < K; c++) if (c !== k) option(merge, String(c), `${c}: ${clusterName(c)}`);
      merge.value = review.merge[k] !== undefined ? String(review.merge[k]) : "";
      merge.addEventListener("change", () => {
        if (merge.value === "") { delete review.merge[k]; say(`cluster ${k} no longer merged`); refresh(); return; }
        const into = Number(merge.value);
        if (finalCluster(into) === k) { merge.value = ""; say(`cluster ${into} already ends in ${k}: that merge would be a cycle`); return; }
        review.merge[k] = into; say(`cluster ${k} merged into ${into}`); refresh();
      });
      body.appendChild(tr);
    }
  }
  function refresh() { drawClusters(); fillFilters(); applyFilters(); if (selected >= 0) select(selected); }

  // ---- review.json, downloaded as a Blob
  function reviewJson() {
    const asText = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [String(k), String(v)]));
    return JSON.stringify({ format: 1, cluster_names: asText(review.names), merge: asText(review.merge),
      moved: asText(review.moved), excluded: D.ids.filter((id) => review.excluded.has(id)) }, null, 1);
  }
  $("download-review").addEventListener("click", () => {
    lastReview = reviewJson();
    const url = URL.createObjectURL(new Blob([lastReview], { type: "application/json" }));
    const a = document.createElement("a"); a.href = url; a.download = "review.json";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say("review.json downloaded");
  });
  for (const id of ["filter-cluster", "filter-label", "filter-flag"]) $(id).addEventListener("change", applyFilters);
  $("page-prev").addEventListener("click", () => { page--; drawGallery(); });
  $("page-next").addEventListener("click", () => { page++; drawGallery(); });
  $("groups-prev").addEventListener("click", () => { groupPage--; drawDuplicates(); });
  $("groups-next").addEventListener("click", () => { groupPage++; drawDuplicates(); });

  $("map-method").textContent = D.map_method;
  $("counts").textContent = `${N} images · ${K} clusters`;
  drawClusters(); fillFilters(); applyFilters(); if (DUP) showDuplicates();
  const linked = /^#image=(\d+)$/.exec(window.location.hash);  // report.html#image=<row> opens that image
  if (linked && Number(linked[1]) < N) select(Number(linked[1]));
  document.body.dataset.readyMs = performance.now().toFixed(0);  // from navigation start to the first full draw
  // for scripted checks: where a point is drawn, what the last download held
  window.debclustReport = {
    pointPosition(i) { const box = canvas.getBoundingClientRect(); return { x: box.left + px(i) * box.width / canvas.width, y: box.top + py(i) * box.height / canvas.height }; },
    lastReview: () => lastReview, select, reviewJson,
  };
})();
