// Live regions, refreshed from the server (no build step, no framework):
//   data-live="URL"         the region's HTML is replaced when the server's version changes (the inbox)
//   data-live-append="URL"  rows written after data-cursor are added on top (the audit log)
// Each refresh is one GET every data-interval milliseconds; a failed one is simply tried again later.
"use strict";

function every(element, work) {
  const interval = Number(element.dataset.interval) || 2000;
  const tick = async () => {
    try { await work(); } catch (error) { /* offline or signed out: try again at the next tick */ }
    setTimeout(tick, interval);
  };
  setTimeout(tick, interval);
}

function refreshRegion(region) {
  every(region, async () => {
    if (region.contains(document.activeElement) && document.activeElement.tagName === "BUTTON") return;
    const url = `${region.dataset.live}?version=${encodeURIComponent(region.dataset.version)}`;
    const response = await fetch(url, {credentials: "same-origin", redirect: "error"});
    if (response.status !== 200) return;
    const html = await response.text();
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const marker = holder.querySelector("[data-version]");
    region.innerHTML = html;
    if (marker) region.dataset.version = marker.dataset.version;
  });
}

function appendRows(body) {
  every(body, async () => {
    const url = `${body.dataset.liveAppend}${body.dataset.liveAppend.includes("?") ? "&" : "?"}after=${body.dataset.cursor}`;
    const response = await fetch(url, {credentials: "same-origin", redirect: "error"});
    if (response.status !== 200) return;
    body.dataset.cursor = response.headers.get("X-Audit-Cursor") || body.dataset.cursor;
    const html = (await response.text()).trim();
    if (!html) return;
    const holder = document.createElement("tbody");
    holder.innerHTML = html;
    const rows = Array.from(holder.children);
    rows.forEach((row) => row.classList.add("new"));
    body.prepend(...rows);
    const empty = document.getElementById("no-records");
    if (empty) empty.remove();
  });
}

document.querySelectorAll("[data-live]").forEach(refreshRegion);
document.querySelectorAll("[data-live-append]").forEach(appendRows);
