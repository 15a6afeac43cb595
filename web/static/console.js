// Progressive enhancement only: every page works without this file.
// Copy-to-clipboard for elements marked data-copy="<id of the element holding the text>".
"use strict";
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  var src = document.getElementById(btn.getAttribute("data-copy"));
  if (!src) return;
  var text = src.value !== undefined ? src.value : src.textContent;
  var done = function () {
    var old = btn.textContent;
    btn.textContent = "Copied";
    btn.classList.add("copied");
    setTimeout(function () { btn.textContent = old; btn.classList.remove("copied"); }, 1600);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { src.select && src.select(); });
  } else if (src.select) {
    // Plain-HTTP fallback: select the text and use the legacy copy command.
    src.select();
    try { if (document.execCommand("copy")) done(); } catch (e) { /* user copies by hand */ }
  }
});
// Reveal copy buttons only when scripting works (they are hidden by default in CSS).
document.documentElement.classList.add("js");
