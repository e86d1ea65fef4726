//! Market Code (市场码) single-page app: Yew, rendered in the browser from WASM.

mod api;
mod app;
mod components;
mod i18n;
mod pages;
mod state;

fn main() {
    // index.html shows a spinner while the bundle downloads; once we run, the
    // app draws its own.
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    yew::Renderer::<app::App>::new().render();
}
