// Starts the app. An external module, not an inline script, so a strict
// Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval') holds.
//
// The bundle's names are on <link id="app-bundle"> (Trunk.toml's
// pattern_script). A browser whose WebAssembly lacks a feature the main build
// uses (iOS before 16.4 has no reference types, among others) gets the build
// for the MVP feature set, named in data-mvp-js / data-mvp-wasm by `cargo
// xtask` after it builds it; `?wasm=mvp` in the page's URL forces that build
// (the browser suite uses it). Written for old webviews: no top-level await,
// no optional chaining.
(function () {
  // The saved settings (state.rs): on <html> before the app starts, and as
  // the mc_prefs cookie, from which the server renders the stall page in
  // them (no inline script may do it: the CSP forbids one). Same keys and
  // format as state.rs; backend/src/stall_page.rs reads the cookie.
  try {
    var root = document.documentElement;
    var large = localStorage.getItem("mc.large_text") === "true";
    var en = localStorage.getItem("mc.lang") === '"en"';
    if (large) root.className = "large";
    if (en) root.lang = "en";
    document.cookie = "mc_prefs=" + (en ? "en" : "zh") + (large ? ".large" : "") +
      "; Path=/; Max-Age=31536000; SameSite=Lax";
  } catch (e) {}

  var link = document.getElementById("app-bundle");
  if (!link || typeof WebAssembly !== "object") return;
  // One small module with each post-MVP feature the main build is compiled
  // with: multi-value results, sign extension, non-trapping float-to-int,
  // bulk memory, reference types, an exported mutable global. xtask's tests
  // check that it is valid with all of them and invalid without any one.
  var probe = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x14, 0x04, 0x60, 0x00, 0x02, 0x7f, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x01, 0x7d, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x6f,
    0x03, 0x06, 0x05, 0x00, 0x01, 0x02, 0x01, 0x03,
    0x05, 0x03, 0x01, 0x00, 0x01,
    0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b,
    0x07, 0x05, 0x01, 0x01, 0x67, 0x03, 0x00,
    0x0a, 0x28, 0x05,
    0x06, 0x00, 0x41, 0x00, 0x41, 0x00, 0x0b,
    0x05, 0x00, 0x20, 0x00, 0xc0, 0x0b,
    0x06, 0x00, 0x20, 0x00, 0xfc, 0x00, 0x0b,
    0x0d, 0x00, 0x20, 0x00, 0x20, 0x00, 0x20, 0x00, 0xfc, 0x0b, 0x00, 0x20, 0x00, 0x0b,
    0x04, 0x00, 0xd0, 0x6f, 0x0b
  ]);
  var js = link.getAttribute("href");
  var wasm = link.getAttribute("data-wasm");
  var mvpJs = link.getAttribute("data-mvp-js");
  var forced = /[?&]wasm=mvp(&|$)/.test(location.search);
  if (mvpJs && (forced || !WebAssembly.validate(probe))) {
    js = mvpJs;
    wasm = link.getAttribute("data-mvp-wasm");
    document.documentElement.setAttribute("data-wasm-build", "mvp");
  }
  import(js).then(function (bindings) {
    return bindings.default({ module_or_path: wasm });
  });
})();
