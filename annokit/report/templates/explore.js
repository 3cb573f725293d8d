/* annokit explore: the page's script (no library, no network).
 *
 * match(t, s) redoes annokit.analysis.tide's matching for the IoU threshold t and the score threshold s from the
 * embedded pairs; tally() counts what the filters select; the grid draws only the rows in view. */
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("explorer-data").textContent);
  const THUMBS = JSON.parse(document.getElementById("explorer-thumbs").textContent);
  const OUTCOMES = ["TP", "Cls", "Loc", "Both", "Dupe", "Bkg", "Miss"];
  const COLORS = {TP: "#1a9850", Cls: "#e6550d", Loc: "#3182bd", Both: "#756bb1", Dupe: "#b8a800", Bkg: "#d62728",
                  Miss: "#fd8d3c", FN: "#fd8d3c", ignored: "#999999", gt: "#2166ac"};
  const ERR = ["", "Cls", "Loc", "Both", "Dupe", "Bkg", "Miss"];  // error codes, as annokit.analysis.tide
  const CLS = 1, LOC = 2, BOTH = 3, DUPE = 4, BKG = 5, MISS = 6;

  function column(name) {
    const c = D.columns[name], bin = atob(c.b64), n = bin.length, u8 = new Uint8Array(n);
    for (let i = 0; i < n; i++) u8[i] = bin.charCodeAt(i);
    const T = {f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array}[c.dtype];
    return new T(u8.buffer);
  }
  const t0 = performance.now();
  const C = {};
  for (const k of Object.keys(D.columns)) C[k] = column(k);
  D.columns = null;  // free the text
  const NI = C.img_h.length, NG = C.gt_cls.length, NP = C.pred_cls.length;
  const names = D.categories.names;

  // ------------------------------------------------------------------------------------------- matching state
  const pStatus = new Int8Array(NP);   // 0 TP, 1 FP, 2 ignored (crowd), 3 below the score threshold
  const pErr = new Int8Array(NP);      // error code of an FP / ignored prediction
  const pTarget = new Int32Array(NP);  // matched ground truth (TP) or the one its error points at, else -1
  const pIou = new Float64Array(NP);   // best IoU with a same-class ground truth (0 below 0.1)
  const gStatus = new Int8Array(NG);   // 0 TP, 1 FN, 2 crowd
  const gErr = new Int8Array(NG);      // Miss, or the type of the best Cls / Loc error pointing at it
  const gMatch = new Int32Array(NG);
  const used = new Uint8Array(NG);

  function greedy(p0, p1, t, s) {
    // each prediction in score order takes the unmatched same-class ground truth of highest IoU (first on ties)
    for (let i = p0; i < p1; i++) {
      pTarget[i] = -1; pErr[i] = 0; pIou[i] = 0;
      if (C.pred_score[i] < s) { pStatus[i] = 3; continue; }
      let best = -1, bv = -1;
      for (let q = C.pair_start[i]; q < C.pair_start[i + 1]; q++) {
        const g = C.pair_gt[q];
        if (C.gt_crowd[g] || C.gt_cls[g] !== C.pred_cls[i]) continue;
        const v = C.pair_iou[q];
        if (v > pIou[i]) pIou[i] = v;
        if (!used[g] && v > bv) { bv = v; best = g; }
      }
      if (best >= 0 && bv >= t) { used[best] = 1; pStatus[i] = 0; pTarget[i] = best; gMatch[best] = i; }
      else pStatus[i] = -1;
    }
  }

  function errorType(i, t, bg, hasG) {
    // the error of unmatched prediction i, by the precedence Loc, Cls, Dupe, Bkg, Both
    let ignored = false, va = 0, a = -1, vb = 0, b = -1, vc = 0, c = -1, vmax = 0;
    for (let q = C.pair_start[i]; q < C.pair_start[i + 1]; q++) {
      const g = C.pair_gt[q], v = C.pair_iou[q], same = C.gt_cls[g] === C.pred_cls[i];
      if (C.gt_crowd[g]) { if (same && v > t) ignored = true; continue; }
      if (v > vmax) vmax = v;
      if (same) { if (v > va) { va = v; a = g; } if (used[g] && v > vc) { vc = v; c = g; } }
      else if (v > vb) { vb = v; b = g; }
    }
    pStatus[i] = ignored ? 2 : 1;
    if (!hasG) { pErr[i] = BKG; return; }
    if (a >= 0 && bg <= va && va <= t) { pErr[i] = LOC; pTarget[i] = a; }
    else if (b >= 0 && vb >= t) { pErr[i] = CLS; pTarget[i] = b; }
    else if (c >= 0 && vc >= t) { pErr[i] = DUPE; pTarget[i] = c; }
    else if (vmax <= bg) pErr[i] = BKG;
    else pErr[i] = BOTH;
  }

  function match(t, s) {
    const bg = D.bg_thresh;
    used.fill(0); gMatch.fill(-1); gErr.fill(0);
    for (let k = 0; k < NI; k++) {
      const p0 = C.pred_start[k], p1 = C.pred_start[k + 1], g0 = C.gt_start[k], g1 = C.gt_start[k + 1];
      let hasG = false;
      for (let g = g0; g < g1; g++) if (!C.gt_crowd[g]) { hasG = true; break; }
      greedy(p0, p1, t, s);
      for (let i = p0; i < p1; i++) if (pStatus[i] === -1) errorType(i, t, bg, hasG);
      for (let g = g0; g < g1; g++) gStatus[g] = C.gt_crowd[g] ? 2 : (used[g] ? 0 : 1);
      for (let i = p0; i < p1; i++) {  // the first (highest-scoring) Cls / Loc error at an unmatched object
        const e = pErr[i], g = pTarget[i];
        if ((pStatus[i] === 1 || pStatus[i] === 2) && (e === CLS || e === LOC) && g >= 0 && gStatus[g] === 1 &&
            gErr[g] === 0) gErr[g] = e;
      }
      for (let g = g0; g < g1; g++) if (gStatus[g] === 1 && gErr[g] === 0) gErr[g] = MISS;
    }
  }

  function bestF1Threshold() {
    // annokit.report.build.Outcome.at_best_f1 at IoU 0.5 over all scores, rounded down to 0.01
    match(0.5, -Infinity);
    const idx = [];
    for (let i = 0; i < NP; i++) if (pStatus[i] <= 1) idx.push(i);
    idx.sort((x, y) => C.pred_score[y] - C.pred_score[x]);
    let nGt = 0;
    for (let g = 0; g < NG; g++) if (!C.gt_crowd[g]) nGt++;
    let tp = 0, bestF = -1, bestT = 0;
    for (let n = 0; n < idx.length; n++) {
      tp += pStatus[idx[n]] === 0 ? 1 : 0;
      if (n + 1 < idx.length && C.pred_score[idx[n + 1]] === C.pred_score[idx[n]]) continue;
      const p = tp / (n + 1), r = nGt ? tp / nGt : 0, f = p + r > 0 ? 2 * p * r / (p + r) : 0;
      if (f > bestF) { bestF = f; bestT = C.pred_score[idx[n]]; }
    }
    return idx.length ? Math.floor(bestT * 100) / 100 : 0;
  }

  // ------------------------------------------------------------------------------------------- filters, counts
  const state = {cls: -1, outcomes: new Set(), slice: "", score: 0, iou: 0.5, sort: "worst",
                 show: {gt: true, pred: true, errorsOnly: false, labels: true, masks: true}};
  const perImage = new Int32Array(NI * 10);  // TP, Cls, Loc, Both, Dupe, Bkg, Miss, FP, FN, objects of the class
  let shown = [];
  const sliceSets = {};
  for (const [k, v] of Object.entries(D.slices)) { const m = new Uint8Array(NI); for (const i of v) m[i] = 1; sliceSets[k] = m; }

  function tally() {
    perImage.fill(0);
    const cls = state.cls;
    for (let k = 0; k < NI; k++) {
      const o = k * 10;
      for (let i = C.pred_start[k]; i < C.pred_start[k + 1]; i++) {
        if (pStatus[i] > 2 || (cls >= 0 && C.pred_cls[i] !== cls)) continue;
        perImage[o + 9]++;
        if (pStatus[i] === 0) perImage[o]++;
        else { perImage[o + pErr[i]]++; if (pStatus[i] === 1) perImage[o + 7]++; }
      }
      for (let g = C.gt_start[k]; g < C.gt_start[k + 1]; g++) {
        if (cls >= 0 && C.gt_cls[g] !== cls) continue;
        perImage[o + 9]++;
        if (gStatus[g] === 1) { perImage[o + 8]++; if (gErr[g] === MISS) perImage[o + 6]++; }
      }
    }
    const sl = state.slice ? sliceSets[state.slice] : null, want = [...state.outcomes].map(x => OUTCOMES.indexOf(x));
    shown = [];
    for (let k = 0; k < NI; k++) {
      const o = k * 10;
      if (sl && !sl[k]) continue;
      if (cls >= 0 && perImage[o + 9] === 0) continue;
      if (want.length && !want.some(j => perImage[o + j] > 0)) continue;
      shown.push(k);
    }
    const key = {worst: k => -(perImage[k * 10 + 7] + perImage[k * 10 + 8]), tp: k => -perImage[k * 10], id: k => 0,
                 name: null}[state.sort];
    if (state.sort === "name") shown.sort((x, y) => D.images.files[x] < D.images.files[y] ? -1 : (D.images.files[x] > D.images.files[y] ? 1 : x - y));
    else shown.sort((x, y) => (key(x) - key(y)) || (x - y));
  }

  function totals() {
    const out = {images: shown.length, FP: 0, FN: 0};
    for (const o of OUTCOMES) out[o] = 0;
    for (const k of shown) {
      for (let j = 0; j < 7; j++) out[OUTCOMES[j]] += perImage[k * 10 + j];
      out.FP += perImage[k * 10 + 7]; out.FN += perImage[k * 10 + 8];
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------- masks
  function rleCounts(str) {
    // a compressed COCO RLE string -> run lengths (pycocotools' rleFrString)
    const cnts = [];
    let p = 0;
    while (p < str.length) {
      let x = 0, k = 0, more = 1;
      while (more) {
        const c = str.charCodeAt(p) - 48;
        x |= (c & 0x1f) << (5 * k);
        more = c & 0x20; p++; k++;
        if (!more && (c & 0x10) && 5 * k < 32) x |= -1 << (5 * k);
      }
      if (cnts.length > 2) x += cnts[cnts.length - 2];
      cnts.push(x);
    }
    return cnts;
  }

  function paintMask(ctx, k, str, color, ox, oy, sc) {
    // the mask (column-major runs at the image's size) drawn at scale sc, half transparent
    const h = C.img_h[k], w = C.img_w[k], s2 = Math.min(sc, 1);  // painted at most at the image's resolution
    const W = Math.max(1, Math.round(w * s2)), H = Math.max(1, Math.round(h * s2));
    const off = document.createElement("canvas"); off.width = W; off.height = H;
    const octx = off.getContext("2d"), im = octx.createImageData(W, H), d = im.data;
    const r = parseInt(color.slice(1, 3), 16), g = parseInt(color.slice(3, 5), 16), b = parseInt(color.slice(5, 7), 16);
    let at = 0, on = 0;
    for (const n of rleCounts(str)) {
      if (on) for (let i = at; i < at + n; i++) {
        const col = (i / h) | 0, X = (col * s2) | 0, Y = ((i - col * h) * s2) | 0;
        if (X < W && Y < H) { const o = (Y * W + X) * 4; d[o] = r; d[o + 1] = g; d[o + 2] = b; d[o + 3] = 110; }
      }
      at += n; on ^= 1;
    }
    octx.putImageData(im, 0, 0);
    const smooth = ctx.imageSmoothingEnabled;
    ctx.imageSmoothingEnabled = false;  // crisp pixels when enlarged
    ctx.drawImage(off, ox, oy, w * sc, h * sc);
    ctx.imageSmoothingEnabled = smooth;
  }

  // ------------------------------------------------------------------------------------------- drawing
  const decoded = new Map();
  function picture(k, onload) {
    const uri = THUMBS[k];
    if (!uri) return null;
    let im = decoded.get(k);
    if (!im) {
      im = new Image(); im.onload = onload; im.src = uri; decoded.set(k, im);
      if (decoded.size > 600) decoded.delete(decoded.keys().next().value);
    }
    return im.complete && im.naturalWidth ? im : null;
  }

  function objects(k) {
    // what is drawn on image k: [box (4), colour, dashed, label, kind, index]
    const out = [], cls = state.cls, sh = state.show;
    if (sh.gt) for (let g = C.gt_start[k]; g < C.gt_start[k + 1]; g++) {
      if (cls >= 0 && C.gt_cls[g] !== cls) continue;
      const fn = gStatus[g] === 1;
      if (sh.errorsOnly && !fn) continue;
      const kind = C.gt_crowd[g] ? "crowd" : (fn ? "FN " + ERR[gErr[g]] : "matched");
      out.push([C.gt_box.subarray(4 * g, 4 * g + 4), fn ? COLORS.FN : (C.gt_crowd[g] ? COLORS.ignored : COLORS.gt),
                true, (names[C.gt_cls[g]] || "?") + " " + kind, "gt", g]);
    }
    if (sh.pred) for (let i = C.pred_start[k]; i < C.pred_start[k + 1]; i++) {
      if (pStatus[i] > 2 || (cls >= 0 && C.pred_cls[i] !== cls)) continue;
      if (sh.errorsOnly && pStatus[i] === 0) continue;
      const kind = pStatus[i] === 0 ? "TP" : (pStatus[i] === 2 ? "ignored " : "") + ERR[pErr[i]];
      const color = pStatus[i] === 0 ? COLORS.TP : (pStatus[i] === 2 ? COLORS.ignored : COLORS[ERR[pErr[i]]]);
      out.push([C.pred_box.subarray(4 * i, 4 * i + 4), color, false,
                (names[C.pred_cls[i]] || "?") + " " + C.pred_score[i].toFixed(2) + " " + kind, "pred", i]);
    }
    return out;
  }

  function draw(ctx, k, W, H, big, onload) {
    const iw = C.img_w[k] || 1, ih = C.img_h[k] || 1, sc = Math.min(W / iw, H / ih);
    const ox = (W - iw * sc) / 2, oy = (H - ih * sc) / 2;
    ctx.clearRect(0, 0, W, H);
    const im = picture(k, onload);
    if (im) ctx.drawImage(im, ox, oy, iw * sc, ih * sc);
    else { ctx.fillStyle = "#dcdcdc"; ctx.fillRect(ox, oy, iw * sc, ih * sc); }
    ctx.font = big ? "12px system-ui,sans-serif" : "9px system-ui,sans-serif";
    const obs = objects(k);
    if (big && D.masks && state.show.masks) for (const [, color, , , kind, j] of obs) {
      const str = D.masks[kind][j];
      if (str) paintMask(ctx, k, str, color, ox, oy, sc);
    }
    for (const [b, color, dashed] of obs) {
      ctx.strokeStyle = color; ctx.lineWidth = big ? 2 : 1.2; ctx.setLineDash(dashed ? [4, 3] : []);
      ctx.strokeRect(ox + b[0] * sc, oy + b[1] * sc, (b[2] - b[0]) * sc, (b[3] - b[1]) * sc);
    }
    ctx.setLineDash([]);
    if (big && state.show.labels) for (const [b, color, , label] of obs) {
      const x = ox + b[0] * sc, y = Math.max(oy + b[1] * sc, 13), w = ctx.measureText(label).width + 4;
      ctx.fillStyle = color; ctx.fillRect(x, y - 13, w, 13); ctx.fillStyle = "#fff"; ctx.fillText(label, x + 2, y - 3);
    }
    return obs.length;
  }

  // ------------------------------------------------------------------------------------------- virtual grid
  const grid = document.getElementById("grid"), inner = document.getElementById("grid-inner");
  const CW = 220, CH = 200;
  let pool = [], frame = 0;
  function layout() { return Math.max(1, Math.floor(grid.clientWidth / CW)); }
  function renderGrid() {
    frame = 0;
    const cols = layout(), rows = Math.ceil(shown.length / cols);
    inner.style.height = rows * CH + "px";
    const r0 = Math.max(0, Math.floor(grid.scrollTop / CH) - 1);
    const r1 = Math.min(rows, Math.ceil((grid.scrollTop + grid.clientHeight) / CH) + 1);
    const need = Math.max(0, (r1 - r0) * cols);
    while (pool.length < need) {
      const cell = document.createElement("div"); cell.className = "cell";
      cell.innerHTML = "<canvas width='212' height='164'></canvas><div class='cap'></div>";
      cell.addEventListener("click", () => openView(+cell.dataset.pos));
      inner.appendChild(cell); pool.push(cell);
    }
    for (let n = 0; n < pool.length; n++) {
      const cell = pool[n], pos = r0 * cols + n;
      if (n >= need || pos >= shown.length) { cell.style.display = "none"; continue; }
      const k = shown[pos], o = k * 10;
      cell.style.display = ""; cell.dataset.pos = pos; cell.dataset.image = D.images.ids[k];
      cell.style.transform = "translate(" + (pos % cols) * CW + "px," + Math.floor(pos / cols) * CH + "px)";
      const cv = cell.firstChild;
      draw(cv.getContext("2d"), k, cv.width, cv.height, false, schedule);
      cell.lastChild.textContent = D.images.files[k] + " \u00b7 TP " + perImage[o] + " FP " + perImage[o + 7] +
        " FN " + perImage[o + 8];
    }
  }
  function schedule() { if (!frame) frame = requestAnimationFrame(renderGrid); }
  grid.addEventListener("scroll", schedule);
  window.addEventListener("resize", schedule);

  // ------------------------------------------------------------------------------------------- large view
  const view = document.getElementById("view"), vcanvas = document.getElementById("view-canvas");
  let viewPos = -1;
  function openView(pos) { viewPos = pos; view.hidden = false; renderView(); }
  function closeView() { view.hidden = true; viewPos = -1; }
  function renderView() {
    if (viewPos < 0 || viewPos >= shown.length) return closeView();
    const k = shown[viewPos];
    const W = Math.min(window.innerWidth - 80, 1100), H = Math.min(window.innerHeight - 220, 760);
    const dpr = window.devicePixelRatio || 1;
    vcanvas.width = Math.round(W * dpr); vcanvas.height = Math.round(H * dpr);
    vcanvas.style.width = W + "px"; vcanvas.style.height = H + "px";
    const ctx = vcanvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const n = draw(ctx, k, W, H, true, renderView);
    vcanvas.dataset.objects = n;
    document.getElementById("view-title").textContent = D.images.files[k] + " (id " + D.images.ids[k] + ", " +
      (viewPos + 1) + " of " + shown.length + ")";
    const rows = objects(k).map(([b, , , label, kind, j]) => "<tr><td>" + kind + "</td><td>" +
      (kind === "gt" ? C.gt_id[j] : C.pred_id[j]) + "</td><td>" + esc(label) + "</td><td>" +
      (kind === "pred" ? pIou[j].toFixed(3) : "") + "</td><td>" + Array.from(b, v => v.toFixed(1)).join(", ") +
      "</td></tr>");
    document.getElementById("view-objects").innerHTML =
      "<tr><th>kind</th><th>id</th><th>object</th><th>best IoU (same class)</th><th>box (l, t, r, b)</th></tr>" + rows.join("");
  }
  function esc(s) { return s.replace(/[&<>"]/g, ch => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[ch])); }
  document.getElementById("view-close").addEventListener("click", closeView);
  document.getElementById("view-prev").addEventListener("click", () => { if (viewPos > 0) { viewPos--; renderView(); } });
  document.getElementById("view-next").addEventListener("click", () => { if (viewPos < shown.length - 1) { viewPos++; renderView(); } });
  document.getElementById("show-masks-label").hidden = !D.masks;
  for (const key of ["gt", "pred", "errorsOnly", "labels", "masks"]) {
    const box = document.getElementById("show-" + key);
    box.checked = state.show[key];
    box.addEventListener("change", () => { state.show[key] = box.checked; renderView(); schedule(); });
  }
  document.addEventListener("keydown", e => {
    if (view.hidden) return;
    if (e.key === "Escape") closeView();
    else if (e.key === "ArrowLeft") document.getElementById("view-prev").click();
    else if (e.key === "ArrowRight") document.getElementById("view-next").click();
  });

  // ------------------------------------------------------------------------------------------- controls
  function refresh(rematch) {
    const t1 = performance.now();
    if (rematch) match(state.iou, state.score);
    tally();
    const tot = totals();
    for (const o of OUTCOMES) document.getElementById("n-" + o).textContent = tot[o];
    document.getElementById("n-images").textContent = tot.images;
    document.getElementById("n-FP").textContent = tot.FP;
    document.getElementById("n-FN").textContent = tot.FN;
    document.getElementById("v-score").textContent = state.score.toFixed(2);
    grid.scrollTop = 0;
    renderGrid();
    if (!view.hidden) renderView();
    api.lastUpdateMs = performance.now() - t1;
  }
  const sel = document.getElementById("f-class");
  const opts = ["<option value='-1'>all classes</option>"];
  names.forEach((n, i) => opts.push("<option value='" + i + "'>" + esc(n) + "</option>"));
  sel.innerHTML = opts.join("");
  sel.addEventListener("change", () => { state.cls = +sel.value; refresh(false); });
  const ssel = document.getElementById("f-slice");
  ssel.innerHTML = "<option value=''>all images</option>" + Object.keys(D.slices).map(
    k => "<option>" + esc(k) + "</option>").join("");
  ssel.disabled = !Object.keys(D.slices).length;
  ssel.addEventListener("change", () => { state.slice = ssel.value; refresh(false); });
  for (const b of document.querySelectorAll("button.oc")) b.addEventListener("click", () => {
    const o = b.dataset.oc;
    if (state.outcomes.has(o)) state.outcomes.delete(o); else state.outcomes.add(o);
    b.classList.toggle("on", state.outcomes.has(o));
    refresh(false);
  });
  const ious = document.getElementById("f-iou");
  ious.innerHTML = D.iou_thresholds.map(v => "<button class='iou' data-iou='" + v + "'>" + v.toFixed(2) + "</button>").join("");
  for (const b of ious.querySelectorAll("button")) b.addEventListener("click", () => {
    state.iou = +b.dataset.iou;
    for (const x of ious.querySelectorAll("button")) x.classList.toggle("on", x === b);
    refresh(true);
  });
  const slider = document.getElementById("f-score");
  let pending = 0;
  slider.addEventListener("input", () => {
    state.score = +slider.value;
    document.getElementById("v-score").textContent = state.score.toFixed(2);
    if (!pending) pending = requestAnimationFrame(() => { pending = 0; refresh(true); });
  });
  slider.addEventListener("change", () => { state.score = +slider.value; if (pending) { cancelAnimationFrame(pending); pending = 0; } refresh(true); });
  const sortSel = document.getElementById("f-sort");
  sortSel.addEventListener("change", () => { state.sort = sortSel.value; refresh(false); });

  // ------------------------------------------------------------------------------------------- start
  const api = {state: state, counts: totals, shownImageIds: () => shown.map(k => D.images.ids[k]), lastUpdateMs: 0,
    refresh: refresh, match: match, predTags: () => {
      const out = {};
      for (let i = 0; i < NP; i++) out[C.pred_row[i]] = [pStatus[i], pErr[i], pTarget[i] >= 0 ? C.gt_row[pTarget[i]] : null];
      return out;
    }, maskArea: (kind, j) => {
      const c = rleCounts(D.masks[kind][j]);
      let a = 0;
      for (let n = 1; n < c.length; n += 2) a += c[n];
      return a;
    }, gtTags: () => {
      const out = {};
      for (let g = 0; g < NG; g++) out[C.gt_row[g]] = [gStatus[g], gErr[g], gMatch[g] >= 0 ? C.pred_row[gMatch[g]] : null];
      return out;
    }};
  window.annokitExplorer = api;
  state.score = bestF1Threshold();
  api.bestF1 = state.score;
  slider.value = state.score;
  ious.querySelector("button").classList.add("on");
  document.getElementById("notes").textContent = D.notes.join(" ");
  refresh(true);
  api.loadMs = performance.now() - t0;
  document.body.dataset.ready = "1";
})();
